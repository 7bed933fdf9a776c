// Command sdk-sync is the benchmark's upstream-architecture row (scripts/bench): the Baton
// SDK's own syncer, with its defaults, drives a connector's gRPC server into a .c1z. It prints
// one JSON object: the sync's wall time and what the file holds, read back with dotc1z.
//
//	sdk-sync --connector 127.0.0.1:50051 --file sdk.c1z
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/logging/zap/ctxzap"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/baton-cognito/conformance/sdkrun"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	sdksync "github.com/conductorone/baton-sdk/pkg/sync"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "sdk-sync: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	connector := flag.String("connector", "", "host:port of the connector's gRPC server (plaintext)")
	file := flag.String("file", "", "the .c1z to write; it must not exist")
	flag.Parse()
	if *connector == "" || *file == "" {
		return fmt.Errorf("--connector and --file are required")
	}
	logger, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		return err
	}
	ctx := ctxzap.ToContext(context.Background(), logger)
	conn, err := grpc.NewClient(*connector, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	tmpDir := filepath.Dir(*file)
	started := time.Now()
	if err := sdkrun.Sync(ctx, connectorclient.NewConnectorClient(ctx, conn), *file, sdksync.WithTmpDir(tmpDir)); err != nil {
		return fmt.Errorf("the SDK's sync failed: %w", err)
	}
	wall := time.Since(started)
	contents, err := sdkrun.Read(ctx, *file, dotc1z.WithReadOnly(true), dotc1z.WithTmpDir(tmpDir))
	if err != nil {
		return fmt.Errorf("reading %s back: %w", *file, err)
	}
	resources := map[string]int{}
	for _, r := range contents.Resources {
		resources[r.GetId().GetResourceType()]++
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"wall_s": wall.Seconds(), "resources": resources, "grants": len(contents.Grants)})
}
