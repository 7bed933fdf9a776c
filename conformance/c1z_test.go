package conformance

// Reading a .c1z with the SDK's own dotc1z package, as every Baton tool does.

import (
	"context"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"

	"github.com/baton-cognito/conformance/sdkrun"
)

// c1zContents is everything of the latest sync in a file, by id.
type c1zContents struct {
	resourceTypes map[string]*v2.ResourceType
	resources     map[resourceKey]*v2.Resource
	entitlements  map[string]*v2.Entitlement
	grants        map[string]*v2.Grant
}

func newC1zContents() c1zContents {
	return c1zContents{
		resourceTypes: map[string]*v2.ResourceType{},
		resources:     map[resourceKey]*v2.Resource{},
		entitlements:  map[string]*v2.Entitlement{},
		grants:        map[string]*v2.Grant{},
	}
}

type resourceKey struct{ resourceType, id string }

func keyOf(id *v2.ResourceId) resourceKey {
	return resourceKey{id.GetResourceType(), id.GetResource()}
}

// readC1Z opens `path` with dotc1z and reads every record, each id once.
func readC1Z(t testing.TB, path string, opts ...dotc1z.C1ZOption) c1zContents {
	t.Helper()
	opts = append([]dotc1z.C1ZOption{dotc1z.WithTmpDir(t.TempDir())}, opts...)
	read, err := sdkrun.Read(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("dotc1z cannot read %s: %v", path, err)
	}
	contents := newC1zContents()
	for _, rt := range read.ResourceTypes {
		putOnce(t, contents.resourceTypes, rt.GetId(), rt)
	}
	for _, r := range read.Resources {
		putOnce(t, contents.resources, keyOf(r.GetId()), r)
	}
	for _, e := range read.Entitlements {
		putOnce(t, contents.entitlements, e.GetId(), e)
	}
	for _, g := range read.Grants {
		putOnce(t, contents.grants, g.GetId(), g)
	}
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
