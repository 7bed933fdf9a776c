package conformance

// Deliverable: ListEventFeeds and ListEvents through the SDK's client types across a change
// of the pool, at every page size the rules allow, decoded with the SDK's accessors.

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types"
)

// largestEventPage is the upper bound of ListEventsRequest.page_size in the upstream rules.
const largestEventPage = 1000

// The connector's two feeds: the pool's changes, and its users' sign-ins.
const (
	changeFeed = "cognito_user_pool_changes"
	signInFeed = "cognito_user_pool_sign_ins"
)

// changeHostilePool makes one change of every kind the feed reports and returns the events
// they must produce, as event summaries (see summarize).
func changeHostilePool(t *testing.T, poolID string) []string {
	t.Helper()
	pool := "/_emulator/pools/" + poolID
	shared.mustControl(t, "POST", pool+"/users", map[string]any{"users": []any{
		map[string]any{"username": "new 👤 user", "attributes": map[string]any{"email": "new@example.com"}}}})
	shared.mustControl(t, "POST", pool+"/memberships", map[string]any{"memberships": [][2]string{{"nobody", "new 👤 user"}}})
	shared.mustControl(t, "PATCH", pool+"/users/jane.doe", map[string]any{"enabled": false})
	shared.mustControl(t, "DELETE", pool+"/users/"+url.PathEscape("it's"), nil)
	shared.mustControl(t, "DELETE", pool+"/memberships", map[string]any{"memberships": [][2]string{{"everyone", "member-001"}}})
	shared.mustControl(t, "DELETE", pool+"/groups/"+url.PathEscape("g:member:user:x"), nil)
	shared.mustControl(t, "POST", pool+"/groups", map[string]any{"groups": []any{map[string]any{"name": "fresh/group"}}})
	want := []string{
		"resource user:new 👤 user",
		"grant group:nobody:member user:new 👤 user",
		"resource user:jane.doe",
		"resource user:it's",
		"revoke group:team: red/blue:member user:it's",
		"revoke group:צוות אדום:member user:it's",
		"revoke group:everyone:member user:member-001",
		"resource group:g:member:user:x",
		"revoke group:g:member:user:x:member user:x:y:member:user:z",
		"resource group:fresh/group",
	}
	sort.Strings(want)
	return want
}

// summarize says what an event reports, read with the SDK's oneof accessors.
func summarize(t *testing.T, event *v2.Event) string {
	t.Helper()
	id := func(id *v2.ResourceId) string { return id.GetResourceType() + ":" + id.GetResource() }
	switch event.WhichEvent() {
	case v2.Event_ResourceChangeEvent_case:
		return "resource " + id(event.GetResourceChangeEvent().GetResourceId())
	case v2.Event_CreateGrantEvent_case:
		e := event.GetCreateGrantEvent()
		return "grant " + e.GetEntitlement().GetId() + " " + id(e.GetPrincipal().GetId())
	case v2.Event_CreateRevokeEvent_case:
		e := event.GetCreateRevokeEvent()
		return "revoke " + e.GetEntitlement().GetId() + " " + id(e.GetPrincipal().GetId())
	default:
		t.Errorf("an event of an unexpected kind: %v", event)
		return ""
	}
}

// readEvents reads every event after `cursor`, `size` at a time, and the cursor after them.
func readEvents(t *testing.T, client types.ConnectorClient, feed, cursor string, size uint32) ([]*v2.Event, string) {
	t.Helper()
	var events []*v2.Event
	for {
		page, err := client.ListEvents(context.Background(), &v2.ListEventsRequest{EventFeedId: feed, Cursor: cursor, PageSize: size})
		if err != nil {
			t.Fatalf("ListEvents at page size %d: %v", size, err)
		}
		if size > 0 && len(page.GetEvents()) > int(size) {
			t.Errorf("a page of %d events at page size %d", len(page.GetEvents()), size)
		}
		if page.GetCursor() == "" {
			t.Fatal("an answer without a cursor")
		}
		if page.GetHasMore() && page.GetCursor() == cursor {
			t.Fatal("more events, yet the same cursor: the reader would never end")
		}
		events, cursor = append(events, page.GetEvents()...), page.GetCursor()
		if !page.GetHasMore() {
			return events, cursor
		}
	}
}

func TestEventFeedAcrossAPoolChange(t *testing.T) {
	t.Parallel()
	poolID := seedHostilePool(t, shared, "events")
	env := shared.connectorEnv(poolID, "BATON_EVENT_FEED_DIR="+t.TempDir(), "BATON_EVENT_FEED_INTERVAL=0s")
	v := newValidator()
	client := dial(t, startServer(t, env).addr, v)
	ctx := context.Background()

	feeds, err := client.ListEventFeeds(ctx, &v2.ListEventFeedsRequest{})
	if err != nil || len(feeds.GetList()) != 2 {
		t.Fatalf("ListEventFeeds: %v %v", feeds, err)
	}
	feed := feeds.GetList()[0]
	if feed.GetId() != changeFeed || feeds.GetList()[1].GetId() != signInFeed {
		t.Fatalf("ListEventFeeds: %v, want %s then %s", feeds, changeFeed, signInFeed)
	}
	for _, kind := range []v2.EventType{v2.EventType_EVENT_TYPE_RESOURCE_CHANGE, v2.EventType_EVENT_TYPE_CREATE_GRANT,
		v2.EventType_EVENT_TYPE_CREATE_REVOKE} {
		found := false
		for _, supported := range feed.GetSupportedEventTypes() {
			found = found || supported == kind
		}
		if !found {
			t.Errorf("feed %s does not say it reports %v", feed.GetId(), kind)
		}
	}
	baseline, end := readEvents(t, client, feed.GetId(), "", 0)
	if len(baseline) != 0 {
		t.Fatalf("%d events before anything changed", len(baseline))
	}

	want := changeHostilePool(t, poolID)
	var first []*v2.Event
	for _, size := range []uint32{0, 1, 7, 60, largestEventPage} {
		events, _ := readEvents(t, client, feed.GetId(), end, size)
		var got []string
		for _, event := range events {
			got = append(got, summarize(t, event))
			if event.GetId() == "" || !event.GetOccurredAt().IsValid() {
				t.Errorf("event without an id or a valid time: %v", event)
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("page size %d (-want +got):\n%s", size, diff)
		}
		if first == nil {
			first = events
		} else if diff := cmp.Diff(first, events, protocmp.Transform()); diff != "" {
			t.Errorf("page size %d reads other events than page size 0:\n%s", size, diff)
		}
	}
	requireChangedResourcesCarried(t, first, readAWSPool(t, shared, poolID))
	_, err = client.ListEvents(ctx, &v2.ListEventsRequest{EventFeedId: feed.GetId(), PageSize: largestEventPage + 1})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("ListEvents at page size %d: %v, want InvalidArgument", largestEventPage+1, err)
	}
	v.requireValid(t, "ListEventFeeds", "ListEvents")
}

// requireChangedResourcesCarried: a change event of a resource that still exists carries it
// (a Resource annotation, read with the SDK's helper) as the pool now has it.
func requireChangedResourcesCarried(t *testing.T, events []*v2.Event, pool awsPool) {
	t.Helper()
	for _, event := range events {
		change := event.GetResourceChangeEvent()
		if change == nil {
			continue
		}
		id := change.GetResourceId()
		carried := &v2.Resource{}
		annos := annotations.Annotations(event.GetAnnotations())
		found, err := annos.Pick(carried)
		if err != nil {
			t.Errorf("event %s: %v", event.GetId(), err)
			continue
		}
		name := fmt.Sprintf("%s %q", id.GetResourceType(), id.GetResource())
		user, isUser := pool.users[id.GetResource()]
		group, isGroup := pool.groups[id.GetResource()]
		switch {
		case id.GetResourceType() == "user" && isUser:
			if !found {
				t.Errorf("the change of %s carries no resource", name)
				continue
			}
			t.Run("carried "+name, func(t *testing.T) { requireUser(t, carried, user) })
		case id.GetResourceType() == "group" && isGroup:
			if !found {
				t.Errorf("the change of %s carries no resource", name)
				continue
			}
			t.Run("carried "+name, func(t *testing.T) { requireGroup(t, carried, group) })
		case found:
			t.Errorf("the deletion of %s carries a resource", name)
		}
	}
}

// TestSignInFeedGivesUsageEventsTheSDKAccepts: a Plus pool's successful sign-ins come out of the
// sign-in feed as usage events, the user as actor and target, each once, at every page size,
// and every answer passes the SDK's validation.
func TestSignInFeedGivesUsageEventsTheSDKAccepts(t *testing.T) {
	t.Parallel()
	poolID := shared.plusPoolWithSignIns(t, "sign-ins", []string{"ann", "bob:smith", "cara"}, []map[string]any{
		{"username": "ann", "at": t0},
		{"username": "ann", "at": t0 + 60},
		{"username": "bob:smith", "at": t0 + 30},
		{"username": "cara", "at": t0 + 90, "response": "Fail", "challenges": [][]string{{"Password", "Failure"}}},
	})
	env := shared.connectorEnv(poolID, "BATON_EVENT_FEED_DIR="+t.TempDir())
	v := newValidator()
	client := dial(t, startServer(t, env).addr, v)
	start := timestamppb.New(time.Unix(t0-3600, 0))
	want := []string{"ann", "ann", "bob:smith"}
	for _, size := range []uint32{0, 1, 2, largestEventPage} {
		var got []string
		ids := map[string]bool{}
		cursor := ""
		for {
			page, err := client.ListEvents(context.Background(), &v2.ListEventsRequest{
				EventFeedId: signInFeed, Cursor: cursor, PageSize: size, StartAt: start,
			})
			if err != nil {
				t.Fatalf("ListEvents at page size %d: %v", size, err)
			}
			for _, event := range page.GetEvents() {
				usage := event.GetUsageEvent()
				actor := usage.GetActorResource().GetId()
				if actor.GetResourceType() != "user" || !proto.Equal(actor, usage.GetTargetResource().GetId()) {
					t.Errorf("a sign-in whose actor and target are not the same user: %v", event)
				}
				if ids[event.GetId()] || !event.GetOccurredAt().IsValid() {
					t.Errorf("event repeated or without a valid time: %v", event)
				}
				ids[event.GetId()] = true
				got = append(got, actor.GetResource())
			}
			cursor = page.GetCursor()
			if !page.GetHasMore() {
				break
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page size %d (-want +got):\n%s", size, diff)
		}
	}
	v.requireValid(t, "ListEvents")
}
