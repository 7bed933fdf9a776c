package conformance

// Deliverable: our one-shot file in their reader. `baton-cognito -f ours.c1z` of the hostile
// pool is opened with dotc1z (default options and read-only) and listed with the `baton` CLI,
// and compared field by field with the file the SDK's syncer writes from our gRPC server: two
// engines of ours (the one-shot sync and the server) must say the same thing.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
)

func TestOurOneShotFileIsTheSDKSyncersFile(t *testing.T) {
	t.Parallel()
	poolID := seedHostilePool(t, shared, "one-shot")
	env := shared.connectorEnv(poolID)
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.c1z")
	runConnector(t, env, "-f", ours)
	v := newValidator()
	client := dial(t, startServer(t, env).addr, v)
	sqlite, pebble := filepath.Join(dir, "sdk-sqlite.c1z"), filepath.Join(dir, "sdk-pebble.c1z")
	requireNoWarnings(t, sdkSync(t, client, sqlite, c1zstore.EngineSQLite))
	requireNoWarnings(t, sdkSync(t, client, pebble, c1zstore.EnginePebble))
	v.requireValid(t, "ListResources", "ListEntitlements", "ListGrants")

	original, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	readOnly := readC1Z(t, ours, dotc1z.WithReadOnly(true))
	if after, _ := os.ReadFile(ours); !bytes.Equal(after, original) {
		t.Error("a read-only open changed the file")
	}
	// Default options open the file for writing and save it again on close: use a copy.
	copied := filepath.Join(dir, "copy.c1z")
	if err := os.WriteFile(copied, original, 0o600); err != nil {
		t.Fatal(err)
	}
	requireSameRecords(t, "read-only vs default options", readOnly, readC1Z(t, copied))

	requireMatchesPool(t, readOnly, readAWSPool(t, shared, poolID))
	requireSameRecords(t, "SDK syncer (SQLite) vs one-shot", readC1Z(t, sqlite, dotc1z.WithReadOnly(true)), readOnly)
	requireSameRecords(t, "SDK syncer (Pebble) vs one-shot, references as ids",
		referencesAsIDs(readC1Z(t, pebble, dotc1z.WithReadOnly(true))), referencesAsIDs(readOnly))
}

// referencesAsIDs keeps only the ids of the records an entitlement or grant refers to (its
// resource, the resource types it is grantable to, a grant's entitlement and principal), as
// the SDK's Pebble engine stores them: everything else of those records lives in their own rows.
func referencesAsIDs(c c1zContents) c1zContents {
	resourceRef := func(r *v2.Resource) *v2.Resource { return &v2.Resource{Id: r.GetId()} }
	out := c1zContents{resourceTypes: c.resourceTypes, resources: c.resources,
		entitlements: map[string]*v2.Entitlement{}, grants: map[string]*v2.Grant{}}
	for id, e := range c.entitlements {
		e = proto.Clone(e).(*v2.Entitlement)
		e.Resource = resourceRef(e.GetResource())
		for i, rt := range e.GetGrantableTo() {
			e.GrantableTo[i] = &v2.ResourceType{Id: rt.GetId()}
		}
		out.entitlements[id] = e
	}
	for id, g := range c.grants {
		g = proto.Clone(g).(*v2.Grant)
		g.Entitlement = &v2.Entitlement{Id: g.GetEntitlement().GetId(), Resource: resourceRef(g.GetEntitlement().GetResource())}
		g.Principal = resourceRef(g.GetPrincipal())
		out.grants[id] = g
	}
	return out
}

// requireSameRecords compares two files record by record, every field of every message.
func requireSameRecords(t *testing.T, label string, want, got c1zContents) {
	t.Helper()
	requireSameMessages(t, label+": resource types", want.resourceTypes, got.resourceTypes)
	requireSameMessages(t, label+": resources", want.resources, got.resources)
	requireSameMessages(t, label+": entitlements", want.entitlements, got.entitlements)
	requireSameMessages(t, label+": grants", want.grants, got.grants)
}

func requireSameMessages[K comparable, V any](t *testing.T, label string, want, got map[K]V) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d, want %d", label, len(got), len(want))
	}
	shown := 0
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("%s: %v missing", label, key)
			continue
		}
		if diff := cmp.Diff(w, g, protocmp.Transform()); diff != "" && shown < 5 {
			shown++
			t.Errorf("%s: %v differs (-want +got):\n%s", label, key, diff)
		}
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("%s: %v extra", label, key)
		}
	}
}

// runBaton runs the `baton` CLI on `file` with `args` and `-o json`, and decodes its answer.
func runBaton(t *testing.T, file string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-f", file, "-o", "json"}, args...)
	cmd := exec.CommandContext(ctx, batonCLI, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("baton %v: %v\n%s", argv, err, stderr.String())
	}
	var decoded map[string]any
	if err := json.Unmarshal(out, &decoded); err != nil {
		t.Fatalf("baton %v printed no JSON object: %v\n%s", argv, err, out)
	}
	return decoded
}

// listed is the string at `path` in every item of the list `list` of a CLI answer, e.g. the
// grant id ("grant", "id") of every item of "grants", sorted.
func listed(t *testing.T, answer map[string]any, list string, path ...string) []string {
	t.Helper()
	out := listedInOrder(t, answer, list, path...)
	sort.Strings(out)
	return out
}

// listedInOrder is listed in the CLI's order.
func listedInOrder(t *testing.T, answer map[string]any, list string, path ...string) []string {
	t.Helper()
	items, ok := answer[list].([]any)
	if !ok {
		t.Fatalf("no list %q in %v", list, keys(answer))
	}
	var out []string
	for _, item := range items {
		out = append(out, stringAt(t, item, path...))
	}
	return out
}

// stringAt is the string at `path` (object keys) in a decoded JSON value.
func stringAt(t *testing.T, value any, path ...string) string {
	t.Helper()
	for _, step := range path {
		object, ok := value.(map[string]any)
		if !ok {
			t.Fatalf("%v is not an object with %q", value, step)
		}
		value = object[step]
	}
	s, ok := value.(string)
	if !ok {
		t.Fatalf("%v at %v is not a string", value, path)
	}
	return s
}

func TestTheBatonCLIListsOurFile(t *testing.T) {
	t.Parallel()
	poolID := seedHostilePool(t, shared, "baton-cli")
	file := filepath.Join(t.TempDir(), "ours.c1z")
	runConnector(t, shared.connectorEnv(poolID), "-f", file)
	pool := readAWSPool(t, shared, poolID)

	var users, groups, entitlements, grants []string
	for name := range pool.users {
		users = append(users, "user/"+name)
	}
	for name, members := range pool.members {
		groups = append(groups, "group/"+name)
		entitlements = append(entitlements, memberEntitlementID(name))
		for _, member := range members {
			grants = append(grants, grantID(name, member))
		}
	}

	requireSameSet(t, "baton resource-types", []string{"group", "user"},
		listed(t, runBaton(t, file, "resource-types"), "resourceTypes", "resourceType", "id"))

	resources := runBaton(t, file, "resources")
	types := listedInOrder(t, resources, "resources", "resource", "id", "resourceType")
	ids := listedInOrder(t, resources, "resources", "resource", "id", "resource")
	var qualified []string
	for i := range ids {
		qualified = append(qualified, types[i]+"/"+ids[i])
	}
	requireSameSet(t, "baton resources", append(users, groups...), qualified)
	requireSameSet(t, "baton entitlements", entitlements,
		listed(t, runBaton(t, file, "entitlements"), "entitlements", "entitlement", "id"))
	requireSameSet(t, "baton grants", grants,
		listed(t, runBaton(t, file, "grants"), "grants", "grant", "id"))

	stats := runBaton(t, file, "stats")
	counts, _ := stats["stats"].(map[string]any)
	for key, want := range map[string]int{"resourceTypes": 2, "resources": len(users) + len(groups),
		"entitlements": len(entitlements), "grants": len(grants)} {
		if got, _ := counts[key].(string); got != strconv.Itoa(want) {
			t.Errorf("baton stats %s = %q, want %d", key, got, want)
		}
	}
	if stats["syncType"] != "full" || stats["endedAt"] == nil {
		t.Errorf("baton stats: not a finished full sync: %v", stats)
	}
}
