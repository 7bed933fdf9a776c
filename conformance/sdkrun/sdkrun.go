// Package sdkrun runs the Baton SDK's own syncer against a connector and reads .c1z files with
// the SDK's dotc1z, as a platform built on the upstream architecture does: shared by the
// conformance tests and the benchmark's cmd/sdk-sync.
package sdkrun

import (
	"context"
	"errors"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	sdksync "github.com/conductorone/baton-sdk/pkg/sync"
	"github.com/conductorone/baton-sdk/pkg/types"
)

// Sync runs the SDK's syncer against `client` into a new .c1z at `path`, and closes it (which
// writes the file) whether or not the sync succeeded.
func Sync(ctx context.Context, client types.ConnectorClient, path string, opts ...sdksync.SyncOpt) error {
	syncer, err := sdksync.NewSyncer(ctx, client, append([]sdksync.SyncOpt{sdksync.WithC1ZPath(path)}, opts...)...)
	if err != nil {
		return err
	}
	return errors.Join(syncer.Sync(ctx), syncer.Close(ctx))
}

// Each pages through a Baton listing: it calls `page` with no token, then with each next page
// token until one comes back empty, and hands every item to `each`. A token handed back
// unchanged is an error, not an endless listing.
func Each[T any](page func(token string) (items []T, next string, err error), each func(T)) error {
	for token := ""; ; {
		items, next, err := page(token)
		if err != nil {
			return err
		}
		for _, item := range items {
			each(item)
		}
		if next == "" {
			return nil
		}
		if next == token {
			return fmt.Errorf("the listing handed back the page token it was given (%d bytes)", len(token))
		}
		token = next
	}
}

// Contents is every record of a file's latest sync, in the order the reader lists them.
type Contents struct {
	ResourceTypes []*v2.ResourceType
	Resources     []*v2.Resource
	Entitlements  []*v2.Entitlement
	Grants        []*v2.Grant
}

// Read opens the file at `path` with dotc1z and lists every record, page by page.
func Read(ctx context.Context, path string, opts ...dotc1z.C1ZOption) (Contents, error) {
	store, err := dotc1z.NewStore(ctx, path, opts...)
	if err != nil {
		return Contents{}, err
	}
	var c Contents
	err = errors.Join(
		Each(func(token string) ([]*v2.ResourceType, string, error) {
			page, err := store.ListResourceTypes(ctx, &v2.ResourceTypesServiceListResourceTypesRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(rt *v2.ResourceType) { c.ResourceTypes = append(c.ResourceTypes, rt) }),
		Each(func(token string) ([]*v2.Resource, string, error) {
			page, err := store.ListResources(ctx, &v2.ResourcesServiceListResourcesRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(r *v2.Resource) { c.Resources = append(c.Resources, r) }),
		Each(func(token string) ([]*v2.Entitlement, string, error) {
			page, err := store.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(e *v2.Entitlement) { c.Entitlements = append(c.Entitlements, e) }),
		Each(func(token string) ([]*v2.Grant, string, error) {
			page, err := store.ListGrants(ctx, &v2.GrantsServiceListGrantsRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(g *v2.Grant) { c.Grants = append(c.Grants, g) }),
	)
	return c, errors.Join(err, store.Close(ctx))
}
