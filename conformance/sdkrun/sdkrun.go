// Package sdkrun runs the Baton SDK's own syncer against a connector, as a platform built on
// the upstream architecture does: shared by the conformance tests and the benchmark's
// cmd/sdk-sync.
package sdkrun

import (
	"context"
	"errors"

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
// token until one comes back empty, and hands every item to `each`.
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
		token = next
	}
}

// Counts is what a .c1z holds: resources by resource type, and grants.
type Counts struct {
	Resources map[string]int `json:"resources"`
	Grants    int            `json:"grants"`
}

// Count reads every resource and grant of the file at `path` with the SDK's dotc1z.
func Count(ctx context.Context, path, tmpDir string) (Counts, error) {
	store, err := dotc1z.NewStore(ctx, path, dotc1z.WithReadOnly(true), dotc1z.WithTmpDir(tmpDir))
	if err != nil {
		return Counts{}, err
	}
	counts := Counts{Resources: map[string]int{}}
	err = errors.Join(
		Each(func(token string) ([]*v2.Resource, string, error) {
			page, err := store.ListResources(ctx, &v2.ResourcesServiceListResourcesRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(r *v2.Resource) { counts.Resources[r.GetId().GetResourceType()]++ }),
		Each(func(token string) ([]*v2.Grant, string, error) {
			page, err := store.ListGrants(ctx, &v2.GrantsServiceListGrantsRequest{PageToken: token})
			return page.GetList(), page.GetNextPageToken(), err
		}, func(*v2.Grant) { counts.Grants++ }))
	return counts, errors.Join(err, store.Close(ctx))
}
