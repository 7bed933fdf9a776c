package conformance

// Deliverable: service mode side by side with the SDK's own client. One local platform
// (platform_test.go) receives the token request our service mode sends and the one the SDK's
// credential provider sends for the same client id and secret, and the FinishTask each sends
// for the same grant task, run by our worker and by the SDK's c1api task manager driving our
// gRPC server. Both must say the same thing.

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/grpc-ecosystem/go-grpc-middleware/logging/zap/ctxzap"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/tasks/c1api"
)

// sdkWorkerConnectorEnv, set in a child of the test binary, makes it the SDK's task manager
// driving the connector at that address (see TestMain). A child of its own, because the SDK
// trusts only the system roots, which SSL_CERT_FILE sets once per process.
const sdkWorkerConnectorEnv = "CONFORMANCE_SDK_WORKER_CONNECTOR"

// runSDKWorker says Hello, takes one task from the platform and runs it, as the SDK's
// connector runner does in service mode. It exits 0 once the task is finished.
func runSDKWorker(connectorAddr string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger, err := zap.NewDevelopment()
	if err != nil {
		return 1
	}
	ctx = ctxzap.ToContext(ctx, logger)
	fail := func(what string, err error) int {
		logger.Error(what, zap.Error(err))
		return 1
	}
	manager, err := c1api.NewC1TaskManager(ctx, os.Getenv("BATON_CLIENT_ID"), os.Getenv("BATON_CLIENT_SECRET"),
		os.TempDir(), false, "", "", nil, nil, nil, 1, "", 1, false)
	if err != nil {
		return fail("NewC1TaskManager", err)
	}
	conn, err := grpc.NewClient(connectorAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fail("dial the connector", err)
	}
	defer conn.Close()
	connector := connectorclient.NewConnectorClient(ctx, conn)
	if err := manager.Bootstrap(ctx, connector); err != nil {
		return fail("Hello", err)
	}
	for {
		task, wait, err := manager.Next(ctx)
		if err != nil {
			return fail("GetTask", err)
		}
		if task != nil {
			if err := manager.Process(ctx, task, connector); err != nil {
				return fail("Process", err)
			}
			return 0
		}
		select {
		case <-ctx.Done():
			return fail("no task", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// grantTaskID is a task id of the platform's shape (27 letters and digits, a KSUID).
const grantTaskID = "2Conformance0Grant0Task0Id0"

// grantTask is the task the platform hands both clients: put `user` in `group`, naming the
// entitlement and principal by id as the platform does.
func grantTask(group, user string) *v1.Task {
	return &v1.Task{Id: grantTaskID, Status: v1.Task_STATUS_PENDING,
		TaskType: &v1.Task_Grant{Grant: &v1.Task_GrantTask{
			Entitlement: &v2.Entitlement{Id: memberEntitlementID(group),
				Resource: &v2.Resource{Id: &v2.ResourceId{ResourceType: "group", Resource: group}}},
			Principal: userRef(user)}}}
}

func TestServiceModeSideBySideWithTheSDKsClient(t *testing.T) {
	t.Parallel()
	p := startPlatform(t)
	poolID := seedHostilePool(t, shared, "service-mode")
	const group, user = "🚀 launch ✨", "ann lee"
	credentials := []string{"BATON_CLIENT_ID=" + p.clientID, "BATON_CLIENT_SECRET=" + p.clientSecret,
		"BATON_C1_API_HOST=" + p.host}

	// Ours: the connector in service mode, trusting the platform's CA by its own flag.
	p.push("ours", grantTask(group, user))
	worker := exec.Command(connectorBin)
	worker.Env = append(shared.connectorEnv(poolID, credentials...), "BATON_C1_API_CA_FILE="+p.caFile,
		"BATON_HOST_ID=ours", "BATON_PROVISIONING=true", "TMPDIR="+t.TempDir())
	workerLogs := &lockedBuffer{}
	worker.Stdout, worker.Stderr = workerLogs, workerLogs
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	stopWorker := func() {
		_ = worker.Process.Kill()
		_ = worker.Wait()
	}
	t.Cleanup(func() {
		stopWorker()
		if t.Failed() {
			t.Logf("our worker logged:\n%s", workerLogs)
		}
	})
	ours := p.waitFinished(t, "ours", time.Minute)
	stopWorker()
	oursTokens := len(p.tokenRequests())
	if !contains(groupsOf(t, poolID, user), group) {
		t.Fatalf("our worker finished the grant task, but %q is not in %q", user, group)
	}
	shared.mustControl(t, "DELETE", "/_emulator/pools/"+poolID+"/memberships",
		map[string]any{"memberships": [][2]string{{group, user}}})

	// The SDK's: its task manager in a child process, driving our gRPC server.
	server := startServer(t, shared.connectorEnv(poolID), "--provisioning")
	p.push("sdk", grantTask(group, user))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sdk := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	sdk.Env = append(withoutVariables("BATON_", "AWS_", "SSL_CERT_"), credentials...)
	sdk.Env = append(sdk.Env, "SSL_CERT_FILE="+p.caFile, "BATON_HOST_ID=sdk", sdkWorkerConnectorEnv+"="+server.addr)
	if out, err := sdk.CombinedOutput(); err != nil {
		t.Fatalf("the SDK's task manager failed: %v\n%s", err, out)
	}
	theirs := p.waitFinished(t, "sdk", time.Minute)
	if !contains(groupsOf(t, poolID, user), group) {
		t.Fatalf("the SDK's task manager finished the grant task, but %q is not in %q", user, group)
	}

	p.mu.Lock()
	for _, problem := range p.invalid {
		t.Errorf("the platform received a request that breaks the SDK's rules: %s", problem)
	}
	p.mu.Unlock()
	tokens := p.tokenRequests()
	if oursTokens == 0 || len(tokens) == oursTokens {
		t.Fatalf("token requests: %d from ours, %d from the SDK", oursTokens, len(tokens)-oursTokens)
	}
	requireSameTokenRequest(t, p, tokens[0], tokens[oursTokens])
	requireSameFinishTask(t, ours, theirs, grantID(group, user))
}

// nonceFormat is the SDK's assertion nonce: 16 random bytes in lowercase hex.
var nonceFormat = regexp.MustCompile(`^[0-9a-f]{32}$`)

func requireSameTokenRequest(t *testing.T, p *platform, ours, sdk tokenRequest) {
	t.Helper()
	for who, request := range map[string]tokenRequest{"ours": ours, "the SDK's": sdk} {
		if request.signature != nil {
			t.Errorf("%s assertion: %v", who, request.signature)
		}
		if nonce, _ := request.header["nonce"].(string); !nonceFormat.MatchString(nonce) {
			t.Errorf("%s assertion nonce %q is not 32 hex digits", who, nonce)
		}
		for _, claim := range []string{"iss", "sub"} {
			if request.claims[claim] != p.clientID {
				t.Errorf("%s %s = %v, want the client id", who, claim, request.claims[claim])
			}
		}
		if request.claims["aud"] != platformHost {
			t.Errorf("%s aud = %v, want %q", who, request.claims["aud"], platformHost)
		}
		iat, _ := request.claims["iat"].(float64)
		nbf, _ := request.claims["nbf"].(float64)
		exp, _ := request.claims["exp"].(float64)
		if iat-nbf != 120 || exp-iat != 120 {
			t.Errorf("%s times: nbf %v iat %v exp %v, want two minutes either side", who, nbf, iat, exp)
		}
	}
	names := func(m map[string]any) []string {
		out := keys(m)
		sort.Strings(out)
		return out
	}
	if diff := cmp.Diff(names(sdk.header), names(ours.header)); diff != "" {
		t.Errorf("assertion header fields (-SDK +ours):\n%s", diff)
	}
	if ours.header["alg"] != sdk.header["alg"] {
		t.Errorf("alg %v, the SDK's %v", ours.header["alg"], sdk.header["alg"])
	}
	if diff := cmp.Diff(names(sdk.claims), names(ours.claims)); diff != "" {
		t.Errorf("assertion claims (-SDK +ours):\n%s", diff)
	}
	form := func(values map[string][]string) map[string][]string {
		out := map[string][]string{}
		for key, value := range values {
			if key != "client_assertion" {
				out[key] = value
			}
		}
		return out
	}
	if diff := cmp.Diff(form(sdk.form), form(ours.form)); diff != "" {
		t.Errorf("token request form (-SDK +ours):\n%s", diff)
	}
	if len(ours.form["client_assertion"]) != 1 || len(sdk.form["client_assertion"]) != 1 {
		t.Errorf("client_assertion sent %d and %d times", len(ours.form["client_assertion"]), len(sdk.form["client_assertion"]))
	}
}

// requireSameFinishTask compares two FinishTask requests but for the host id each client
// reports, and checks that ours reports the grant `wantGrant`.
func requireSameFinishTask(t *testing.T, ours, sdk *v1.BatonServiceFinishTaskRequest, wantGrant string) {
	t.Helper()
	if ours.GetSuccess() == nil {
		t.Fatalf("our FinishTask is not a success: %v", ours)
	}
	response := &v2.GrantManagerServiceGrantResponse{}
	if err := ours.GetSuccess().GetResponse().UnmarshalTo(response); err != nil {
		t.Fatalf("our FinishTask response: %v", err)
	}
	if len(response.GetGrants()) != 1 || response.GetGrants()[0].GetId() != wantGrant {
		t.Errorf("our FinishTask reports grants %v", response.GetGrants())
	}
	strip := func(r *v1.BatonServiceFinishTaskRequest) *v1.BatonServiceFinishTaskRequest {
		r = proto.Clone(r).(*v1.BatonServiceFinishTaskRequest)
		r.HostId = ""
		return r
	}
	if diff := cmp.Diff(strip(sdk), strip(ours), protocmp.Transform()); diff != "" {
		t.Errorf("FinishTask for the same grant task (-SDK +ours):\n%s", diff)
	}
	if ours.GetHostId() != "ours" || sdk.GetHostId() != "sdk" {
		t.Errorf("host ids %q and %q", ours.GetHostId(), sdk.GetHostId())
	}
}
