package conformance

// Reading a .c1z with the SDK's own dotc1z package, as every Baton tool does.

import (
	"context"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"

	"github.com/baton-cognito/conformance/sdkrun"
)

// c1zContents is everything of the latest sync in a file, by id.
type c1zContents struct {
	resourceTypes map[string]*v2.ResourceType
	resources     map[resourceKey]*v2.Resource
	entitlements  map[string]*v2.Entitlement
	grants        map[string]*v2.Grant
}

type resourceKey struct{ resourceType, id string }

func keyOf(id *v2.ResourceId) resourceKey {
	return resourceKey{id.GetResourceType(), id.GetResource()}
}

// readC1Z opens `path` with dotc1z and reads every record, page by page.
func readC1Z(t testing.TB, path string, opts ...dotc1z.C1ZOption) c1zContents {
	t.Helper()
	ctx := context.Background()
	opts = append([]dotc1z.C1ZOption{dotc1z.WithTmpDir(t.TempDir())}, opts...)
	store, err := dotc1z.NewStore(ctx, path, opts...)
	if err != nil {
		t.Fatalf("dotc1z cannot open %s: %v", path, err)
	}
	defer func() {
		if err := store.Close(ctx); err != nil {
			t.Errorf("dotc1z close %s: %v", path, err)
		}
	}()
	return readStore(t, store)
}

func readStore(t testing.TB, store c1zstore.Store) c1zContents {
	t.Helper()
	ctx := context.Background()
	contents := c1zContents{
		resourceTypes: map[string]*v2.ResourceType{},
		resources:     map[resourceKey]*v2.Resource{},
		entitlements:  map[string]*v2.Entitlement{},
		grants:        map[string]*v2.Grant{},
	}
	requireListed(t, "resource types", sdkrun.Each(func(token string) ([]*v2.ResourceType, string, error) {
		page, err := store.ListResourceTypes(ctx, &v2.ResourceTypesServiceListResourceTypesRequest{PageToken: token})
		return page.GetList(), page.GetNextPageToken(), err
	}, func(rt *v2.ResourceType) { putOnce(t, contents.resourceTypes, rt.GetId(), rt) }))
	requireListed(t, "resources", sdkrun.Each(func(token string) ([]*v2.Resource, string, error) {
		page, err := store.ListResources(ctx, &v2.ResourcesServiceListResourcesRequest{PageToken: token})
		return page.GetList(), page.GetNextPageToken(), err
	}, func(r *v2.Resource) { putOnce(t, contents.resources, keyOf(r.GetId()), r) }))
	requireListed(t, "entitlements", sdkrun.Each(func(token string) ([]*v2.Entitlement, string, error) {
		page, err := store.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{PageToken: token})
		return page.GetList(), page.GetNextPageToken(), err
	}, func(e *v2.Entitlement) { putOnce(t, contents.entitlements, e.GetId(), e) }))
	requireListed(t, "grants", sdkrun.Each(func(token string) ([]*v2.Grant, string, error) {
		page, err := store.ListGrants(ctx, &v2.GrantsServiceListGrantsRequest{PageToken: token})
		return page.GetList(), page.GetNextPageToken(), err
	}, func(g *v2.Grant) { putOnce(t, contents.grants, g.GetId(), g) }))
	return contents
}

// requireListed stops the test when a listing failed.
func requireListed(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("listing %s: %v", what, err)
	}
}

// putOnce stores `value` under `key`, failing the test when the key is already there: a
// reader handing out one record twice is a defect of the file.
func putOnce[K comparable, V any](t testing.TB, m map[K]V, key K, value V) {
	t.Helper()
	if _, dup := m[key]; dup {
		t.Errorf("%v appears twice", key)
	}
	m[key] = value
}
