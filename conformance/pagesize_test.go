package conformance

// Deliverable: every answer passes the SDK's generated validation rules at page sizes 0, 1,
// 7, 60 and the largest the rules allow, and paging at each size loses and repeats nothing.

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types"

	"github.com/baton-cognito/conformance/sdkrun"
)

// largestPageSize is the upper bound of page_size in the upstream protos' validation rules
// for resource types, resources, entitlements and grants.
const largestPageSize = 250

func TestEveryAnswerPassesTheSDKsValidationAtEveryPageSize(t *testing.T) {
	t.Parallel()
	poolID := seedHostilePool(t, shared, "page-sizes")
	pool := readAWSPool(t, shared, poolID)
	v := newValidator()
	client := dial(t, startServer(t, shared.connectorEnv(poolID)).addr, v)
	ctx := context.Background()
	if _, err := client.GetMetadata(ctx, &v2.ConnectorServiceGetMetadataRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Validate(ctx, &v2.ConnectorServiceValidateRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []uint32{0, 1, 7, 60, largestPageSize} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			requireMatchesPool(t, walk(t, client, size), pool)
		})
	}
	v.requireValid(t, "GetMetadata", "Validate", "ListResourceTypes", "ListResources",
		"ListEntitlements", "ListGrants")

	// Over the rules' bound: the SDK's own server refuses it, and so must we, in every listing.
	group := &v2.Resource{Id: &v2.ResourceId{ResourceType: "group", Resource: "everyone"}}
	for name, call := range map[string]func() error{
		"ListResourceTypes": func() error {
			_, err := client.ListResourceTypes(ctx, &v2.ResourceTypesServiceListResourceTypesRequest{PageSize: largestPageSize + 1})
			return err
		},
		"ListResources": func() error {
			_, err := client.ListResources(ctx, &v2.ResourcesServiceListResourcesRequest{
				ResourceTypeId: "user", PageSize: largestPageSize + 1})
			return err
		},
		"ListEntitlements": func() error {
			_, err := client.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{
				Resource: group, PageSize: largestPageSize + 1})
			return err
		},
		"ListGrants": func() error {
			_, err := client.ListGrants(ctx, &v2.GrantsServiceListGrantsRequest{Resource: group, PageSize: largestPageSize + 1})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s at page size %d: %v, want InvalidArgument", name, largestPageSize+1, err)
		}
	}
}

// walk lists everything the server has, `size` at a time, as a syncer does: resource types,
// the resources of each, and the entitlements and grants of every resource.
func walk(t *testing.T, client types.ConnectorClient, size uint32) c1zContents {
	t.Helper()
	ctx := context.Background()
	got := c1zContents{resourceTypes: map[string]*v2.ResourceType{}, resources: map[resourceKey]*v2.Resource{},
		entitlements: map[string]*v2.Entitlement{}, grants: map[string]*v2.Grant{}}
	// sized checks a page's length against the page size asked for.
	sized := func(what string, n int) {
		if size > 0 && n > int(size) {
			t.Errorf("%s: a page of %d at page size %d", what, n, size)
		}
	}
	requireListed(t, "resource types", sdkrun.Each(func(token string) ([]*v2.ResourceType, string, error) {
		page, err := client.ListResourceTypes(ctx, &v2.ResourceTypesServiceListResourceTypesRequest{PageSize: size, PageToken: token})
		sized("resource types", len(page.GetList()))
		return page.GetList(), page.GetNextPageToken(), err
	}, func(rt *v2.ResourceType) { putOnce(t, got.resourceTypes, rt.GetId(), rt) }))
	for typeID := range got.resourceTypes {
		requireListed(t, typeID+" resources", sdkrun.Each(func(token string) ([]*v2.Resource, string, error) {
			page, err := client.ListResources(ctx, &v2.ResourcesServiceListResourcesRequest{
				ResourceTypeId: typeID, PageSize: size, PageToken: token})
			sized(typeID+" resources", len(page.GetList()))
			return page.GetList(), page.GetNextPageToken(), err
		}, func(r *v2.Resource) { putOnce(t, got.resources, keyOf(r.GetId()), r) }))
	}
	for key, resource := range got.resources {
		entitlementsOf := fmt.Sprintf("entitlements of %v", key)
		requireListed(t, entitlementsOf, sdkrun.Each(func(token string) ([]*v2.Entitlement, string, error) {
			page, err := client.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{
				Resource: resource, PageSize: size, PageToken: token})
			sized(entitlementsOf, len(page.GetList()))
			return page.GetList(), page.GetNextPageToken(), err
		}, func(e *v2.Entitlement) { putOnce(t, got.entitlements, e.GetId(), e) }))
		grantsOf := fmt.Sprintf("grants of %v", key)
		requireListed(t, grantsOf, sdkrun.Each(func(token string) ([]*v2.Grant, string, error) {
			page, err := client.ListGrants(ctx, &v2.GrantsServiceListGrantsRequest{
				Resource: resource, PageSize: size, PageToken: token})
			sized(grantsOf, len(page.GetList()))
			return page.GetList(), page.GetNextPageToken(), err
		}, func(g *v2.Grant) { putOnce(t, got.grants, g.GetId(), g) }))
	}
	return got
}
