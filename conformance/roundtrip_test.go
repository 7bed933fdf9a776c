package conformance

// A benchmark, not a test: the round trip of one small call to `baton-cognito serve` through
// the SDK's client, which a syncer pays for every page it asks for.
//
//	go test -run '^$' -bench RoundTrip -benchtime 200x

import (
	"context"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
)

func BenchmarkRoundTripOfOneCall(b *testing.B) {
	poolID := shared.createPool(b, map[string]any{"name": "round-trip", "groups": []any{map[string]any{"name": "g"}}})
	client := dial(b, startServer(b, shared.connectorEnv(poolID)).addr, nil)
	ctx := context.Background()
	group := &v2.Resource{Id: &v2.ResourceId{ResourceType: "group", Resource: "g"}}
	if _, err := client.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{Resource: group}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := client.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{Resource: group}); err != nil {
			b.Fatal(err)
		}
	}
}
