package conformance

// Deliverable: the SDK's own syncer drives `baton-cognito serve` over real gRPC and writes a
// .c1z with no error and no warning; the file, read back with dotc1z, holds the pool exactly.

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/logging/zap/ctxzap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	sdksync "github.com/conductorone/baton-sdk/pkg/sync"
	"github.com/conductorone/baton-sdk/pkg/types"

	"github.com/baton-cognito/conformance/sdkrun"
)

// loggedContext carries a zap logger that records everything the SDK logs, at every level.
func loggedContext() (context.Context, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return ctxzap.ToContext(context.Background(), zap.New(core)), logs
}

// requireNoWarnings fails the test with every entry the SDK logged at warning level or above,
// and when it logged nothing at all (the logger did not reach it).
func requireNoWarnings(t testing.TB, logs *observer.ObservedLogs) {
	t.Helper()
	if logs.Len() == 0 {
		t.Error("the SDK logged nothing: its logger is not the observed one")
	}
	for _, entry := range logs.All() {
		if entry.Level >= zapcore.WarnLevel {
			t.Errorf("SDK %s: %s %v", entry.Level, entry.Message, entry.ContextMap())
		}
	}
}

// sdkSync runs the SDK's syncer against `client` into a new file at `path`, written by the
// storage `engine` (Pebble, the SDK's default, or SQLite, the v1 format ours is), with the
// SDK's ingestion invariants failing the sync instead of logging.
func sdkSync(t testing.TB, client types.ConnectorClient, path string, engine c1zstore.Engine) *observer.ObservedLogs {
	t.Helper()
	ctx, logs := loggedContext()
	err := sdkrun.Sync(ctx, client, path, sdksync.WithTmpDir(t.TempDir()), sdksync.WithStorageEngine(engine),
		sdksync.WithFailFastInvariants())
	if err != nil {
		t.Fatalf("the SDK's sync failed: %v", err)
	}
	return logs
}

// syncWithBoth writes what `env` names with our one-shot sync and with the SDK's syncer over
// our server (its storage `engine`), the SDK logging no warning. The two files, "one-shot" and
// "SDK syncer", and the validator that checked every answer of the server.
func syncWithBoth(t *testing.T, env []string, engine c1zstore.Engine) (map[string]string, *validator) {
	t.Helper()
	dir := t.TempDir()
	ours, sdk := filepath.Join(dir, "ours.c1z"), filepath.Join(dir, "sdk.c1z")
	runConnector(t, env, "-f", ours)
	v := newValidator()
	requireNoWarnings(t, sdkSync(t, dial(t, startServer(t, env).addr, v), sdk, engine))
	return map[string]string{"one-shot": ours, "SDK syncer": sdk}, v
}

func TestSDKSyncerReadsTheHostilePoolThroughOurServer(t *testing.T) {
	t.Parallel()
	poolID := seedHostilePool(t, shared, "sdk-syncer")
	srv := startServer(t, shared.connectorEnv(poolID))
	v := newValidator()
	file := filepath.Join(t.TempDir(), "sdk.c1z")

	logs := sdkSync(t, dial(t, srv.addr, v), file, c1zstore.EnginePebble)

	requireNoWarnings(t, logs)
	v.requireValid(t, "Validate", "ListResourceTypes", "ListResources",
		"ListEntitlements", "ListGrants")
	requireMatchesPool(t, readC1Z(t, file, dotc1z.WithReadOnly(true)), readAWSPool(t, shared, poolID))
}
