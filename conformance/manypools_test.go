package conformance

// Deliverable (#20): several pools in one process, judged by the SDK. Its own syncer drives
// `baton-cognito serve` holding two hostile pools (odd names, the same usernames in both) and
// follows the pools' ChildResourceType annotations to their users and groups; the file it
// writes and our one-shot file, read back with dotc1z, hold each pool exactly, under ids
// qualified by the pool.

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
)

func TestSeveralPoolsReachTheSDKsFilesFromBothSyncers(t *testing.T) {
	t.Parallel()
	pools := []string{seedHostilePool(t, shared, "many-a"), seedHostilePool(t, shared, "many-b")}
	files, v := syncWithBoth(t, shared.connectorEnv(strings.Join(pools, ",")), c1zstore.EnginePebble)
	v.requireValid(t, "Validate", "ListResourceTypes", "ListResources", "ListEntitlements", "ListGrants")

	for label, path := range files {
		t.Run(label, func(t *testing.T) {
			got := readC1Z(t, path, dotc1z.WithReadOnly(true))
			if _, ok := got.resourceTypes["user_pool"]; !ok {
				t.Fatalf("no user_pool resource type: %v", keys(got.resourceTypes))
			}
			for _, poolID := range pools {
				pool, ok := got.resources[resourceKey{"user_pool", poolID}]
				if !ok {
					t.Fatalf("pool %s is not a resource", poolID)
				}
				var children []string
				for _, a := range pool.GetAnnotations() {
					child := &v2.ChildResourceType{}
					if a.MessageIs(child) && a.UnmarshalTo(child) == nil {
						children = append(children, child.GetResourceTypeId())
					}
				}
				requireSameSet(t, "child types of "+poolID, []string{"user", "group"}, children)
				t.Run(poolID, func(t *testing.T) {
					requireMatchesPool(t, poolView(t, got, poolID), readAWSPool(t, shared, poolID))
				})
			}
		})
	}
}

// poolView is one pool's part of a file of several, in the ids one pool alone has: its users
// and groups (each must name the pool as its parent) without the `<pool id>:` qualifier, and
// the entitlements and grants on them with their ids rebuilt from those. What is left over
// (another pool's records) is not in the view, and the pool's own records must all be.
func poolView(t *testing.T, all c1zContents, poolID string) c1zContents {
	t.Helper()
	prefix := poolID + ":"
	local := func(id *v2.ResourceId) *v2.ResourceId {
		rest, ok := strings.CutPrefix(id.GetResource(), prefix)
		if !ok {
			return nil
		}
		return v2.ResourceId_builder{ResourceType: id.GetResourceType(), Resource: rest}.Build()
	}
	view := newC1zContents()
	for id, rt := range all.resourceTypes {
		if id != "user_pool" {
			view.resourceTypes[id] = rt
		}
	}
	// The resources a file lists must name their pool as parent; those embedded in
	// entitlements and grants are references (the SDK keeps their ids only).
	ownResource := func(r *v2.Resource, listed bool) *v2.Resource {
		id := local(r.GetId())
		if id == nil {
			return nil
		}
		parent := r.GetParentResourceId()
		if listed && (parent.GetResourceType() != "user_pool" || parent.GetResource() != poolID) {
			t.Errorf("%s %s: parent %v, want user_pool:%s", id.GetResourceType(), r.GetId().GetResource(), parent, poolID)
		}
		own := proto.Clone(r).(*v2.Resource)
		own.SetId(id)
		own.ClearParentResourceId()
		return own
	}
	for _, r := range all.resources {
		if own := ownResource(r, true); own != nil {
			view.resources[keyOf(own.GetId())] = own
		}
	}
	ownEntitlement := func(e *v2.Entitlement) *v2.Entitlement {
		resource := ownResource(e.GetResource(), false)
		if resource == nil {
			return nil
		}
		if want := memberEntitlementID(prefix + resource.GetId().GetResource()); e.GetId() != want {
			t.Errorf("entitlement %s, want %s", e.GetId(), want)
		}
		own := proto.Clone(e).(*v2.Entitlement)
		own.SetResource(resource)
		own.SetId(memberEntitlementID(resource.GetId().GetResource()))
		return own
	}
	for _, e := range all.entitlements {
		if own := ownEntitlement(e); own != nil {
			view.entitlements[own.GetId()] = own
		}
	}
	for _, g := range all.grants {
		entitlement := ownEntitlement(g.GetEntitlement())
		principal := ownResource(g.GetPrincipal(), false)
		if entitlement == nil || principal == nil {
			continue
		}
		group, user := entitlement.GetResource().GetId().GetResource(), principal.GetId().GetResource()
		if want := grantID(prefix+group, prefix+user); g.GetId() != want {
			t.Errorf("grant %s, want %s", g.GetId(), want)
		}
		own := proto.Clone(g).(*v2.Grant)
		own.SetEntitlement(entitlement)
		own.SetPrincipal(principal)
		own.SetId(grantID(group, user))
		view.grants[own.GetId()] = own
	}
	return view
}

// TestSeveralPoolsEventFeedsQualifyTheirEvents: with several pools each has its own two feeds,
// and a pool's change events, read through the SDK's client types, name its resources as the
// sync of several pools does (every id qualified by the pool), the same changes one pool alone
// reports.
func TestSeveralPoolsEventFeedsQualifyTheirEvents(t *testing.T) {
	t.Parallel()
	pools := []string{seedHostilePool(t, shared, "feeds-a"), seedHostilePool(t, shared, "feeds-b")}
	env := shared.connectorEnv(strings.Join(pools, ","), "BATON_EVENT_FEED_DIR="+t.TempDir(),
		"BATON_EVENT_FEED_INTERVAL=0s")
	v := newValidator()
	client := dial(t, startServer(t, env).addr, v)

	feeds, err := client.ListEventFeeds(context.Background(), &v2.ListEventFeedsRequest{})
	if err != nil {
		t.Fatalf("ListEventFeeds: %v", err)
	}
	var ids []string
	for _, feed := range feeds.GetList() {
		ids = append(ids, feed.GetId())
	}
	var want []string
	for _, pool := range pools {
		want = append(want, changeFeed+":"+pool, signInFeed+":"+pool)
	}
	requireSameSet(t, "feeds", want, ids)

	pool := pools[1]
	feed := changeFeed + ":" + pool
	baseline, end := readEvents(t, client, feed, "", 0)
	if len(baseline) != 0 {
		t.Fatalf("%d events before anything changed", len(baseline))
	}
	changes := changeHostilePool(t, pool)
	events, _ := readEvents(t, client, feed, end, 0)
	var got []string
	for _, event := range events {
		summary := summarize(t, event)
		qualifiers := 2
		if event.WhichEvent() == v2.Event_ResourceChangeEvent_case {
			qualifiers = 1
		}
		if n := strings.Count(summary, ":"+pool+":"); n != qualifiers {
			t.Errorf("%q names its pool %d times, want %d", summary, n, qualifiers)
		}
		got = append(got, strings.ReplaceAll(summary, ":"+pool+":", ":"))
	}
	requireSameSet(t, "events of "+pool, changes, got)
	v.requireValid(t, "ListEventFeeds", "ListEvents")
}
