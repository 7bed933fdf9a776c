package conformance

// Deliverable (#19): a Plus pool's last logins in our one-shot file and in the file the SDK's own
// syncer writes over our gRPC server, both read back with the SDK's dotc1z package.

import (
	"net/url"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
)

func TestLastLoginReachesTheSDKsFilesFromBothSyncers(t *testing.T) {
	t.Parallel()
	poolID := shared.plusPoolWithSignIns(t, "last-login", []string{"ann", "bob", "cara"}, []map[string]any{
		{"username": "ann", "at": t0},
		{"username": "ann", "at": t0 + 60},
		{"username": "bob", "at": t0 + 30, "response": "Fail", "challenges": [][]string{{"Password", "Failure"}}},
	})
	files, v := syncWithBoth(t, shared.connectorEnv(poolID), c1zstore.EngineSQLite)
	v.requireValid(t, "ListResources")

	want := map[string]*time.Time{"ann": ptr(time.Unix(t0+60, 0).UTC()), "bob": nil, "cara": nil}
	for label, path := range files {
		got := readC1Z(t, path, dotc1z.WithReadOnly(true))
		for name, at := range want {
			user, ok := got.resources[resourceKey{"user", name}]
			if !ok {
				t.Fatalf("%s: user %s missing", label, name)
			}
			trait := &v2.UserTrait{}
			requireAnnotation(t, user.GetAnnotations(), trait)
			requireTime(t, label+" "+name+" last_login", trait.GetLastLogin(), at)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// t0 is 2025-03-01T10:00:00Z: the seeded sign-ins are after it.
const t0 = 1740823200

// plusPoolWithSignIns makes a pool on the Plus plan with threat protection (so Cognito keeps a
// sign-in history) holding `usernames`, and seeds their `events` (the emulator's control API:
// username, at, response, challenges). It returns the pool's id.
func (e *emulator) plusPoolWithSignIns(t testing.TB, name string, usernames []string, events []map[string]any) string {
	t.Helper()
	var users []map[string]any
	for _, username := range usernames {
		users = append(users, map[string]any{"username": username})
	}
	poolID := e.createPool(t, map[string]any{
		"name":  name,
		"users": users,
		"config": map[string]any{
			"UserPoolTier":   "PLUS",
			"UserPoolAddOns": map[string]any{"AdvancedSecurityMode": "AUDIT"},
		},
	})
	e.mustControl(t, "POST", "/_emulator/pools/"+url.PathEscape(poolID)+"/auth-events", map[string]any{"events": events})
	return poolID
}
