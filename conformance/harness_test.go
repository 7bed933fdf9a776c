package conformance

// The parts every conformance test stands on: the connector binary (built by cargo), the
// Cognito emulator the Rust integration tests use (tests/emulator/cognito_emulator.py, started
// the same way: a child process on an ephemeral loopback port that exits when its stdin
// closes), `baton-cognito serve` on a real socket, and the `baton` CLI built from the pinned SDK.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths resolved once by TestMain.
var (
	repoRoot     string
	connectorBin string
	batonCLI     string
	emulatorPy   string
	shared       *emulator
)

func TestMain(m *testing.M) {
	// A child process of TestServiceModeSideBySideWithTheSDKsClient: the SDK's task manager.
	if connector := os.Getenv(sdkWorkerConnectorEnv); connector != "" {
		os.Exit(runSDKWorker(connector))
	}
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return 0, err
	}
	repoRoot = root
	if connectorBin, err = buildConnector(); err != nil {
		return 0, err
	}
	if batonCLI, err = buildBatonCLI(filepath.Dir(connectorBin)); err != nil {
		return 0, err
	}
	if emulatorPy, err = ensureEmulator(); err != nil {
		return 0, err
	}
	shared, err = startEmulator()
	if err != nil {
		return 0, err
	}
	defer shared.stop()
	return m.Run(), nil
}

// buildConnector builds the connector with cargo (a no-op after `cargo test`) and returns the
// executable cargo reports, so CARGO_TARGET_DIR is honoured.
func buildConnector() (string, error) {
	cmd := exec.Command("cargo", "build", "--locked", "--bin", "baton-cognito",
		"--message-format=json-render-diagnostics")
	cmd.Dir = repoRoot
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cargo build of the connector failed (needs Rust; see the README): %w", err)
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var msg struct {
			Reason     string `json:"reason"`
			Executable string `json:"executable"`
			Target     struct {
				Name string `json:"name"`
			} `json:"target"`
		}
		if json.Unmarshal(line, &msg) == nil && msg.Reason == "compiler-artifact" &&
			msg.Target.Name == "baton-cognito" && msg.Executable != "" {
			return msg.Executable, nil
		}
	}
	return "", errors.New("cargo build reported no baton-cognito executable")
}

// buildBatonCLI builds the `baton` CLI of the pinned SDK (its cmd/baton) into `dir`, the
// cargo target directory of the connector: a build product of this run, never committed.
func buildBatonCLI(dir string) (string, error) {
	out := filepath.Join(dir, "conformance-baton")
	cmd := exec.Command("go", "build", "-o", out, "github.com/conductorone/baton-sdk/cmd/baton")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build of the baton CLI failed: %w", err)
	}
	return out, nil
}

// ensureEmulator creates or updates the emulator's virtualenv and returns its python.
func ensureEmulator() (string, error) {
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "ensure-emulator"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/ensure-emulator failed (needs python3 with venv and PyPI): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// emulator is one running Cognito emulator process.
type emulator struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startEmulator starts the emulator on an ephemeral loopback port and waits for the address it
// prints.
func startEmulator() (*emulator, error) {
	cmd := exec.Command(emulatorPy, filepath.Join(repoRoot, "tests", "emulator", "cognito_emulator.py"),
		"--host", "127.0.0.1", "--port", "0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the Cognito emulator: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("the emulator did not start: %q (%v)", line, err)
	}
	return &emulator{url: addr, cmd: cmd, stdin: stdin}, nil
}

func (e *emulator) stop() {
	_ = e.stdin.Close()
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
}

// control sends one request to the emulator's control API and decodes its JSON answer.
func (e *emulator) control(method, path string, body any) (map[string]any, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	out := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return out, nil
}

func (e *emulator) mustControl(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	out, err := e.control(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const region = "us-east-1"

// createPool seeds a pool from a control-API spec and returns its id.
func (e *emulator) createPool(t testing.TB, spec map[string]any) string {
	t.Helper()
	spec["region"] = region
	out := e.mustControl(t, "POST", "/_emulator/pools", spec)
	return out["pool_id"].(string)
}

// connectorEnv is the environment of a connector process reading `poolID` from `e`: the
// caller's environment without any AWS_ or BATON_ variable, dummy static credentials, JSON logs.
func (e *emulator) connectorEnv(poolID string, extra ...string) []string {
	env := append(withoutVariables("AWS_", "BATON_"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
		"BATON_LOG_FORMAT=json",
		"BATON_USER_POOL_ID="+poolID,
		"BATON_ENDPOINT_URL="+e.url,
		"BATON_AWS_ACCESS_KEY_ID="+dummyAccessKey,
		"BATON_AWS_SECRET_ACCESS_KEY="+dummySecretKey,
	)
	return append(env, extra...)
}

// withoutVariables is the test's environment minus the variables whose names start with one
// of `prefixes`.
func withoutVariables(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, prefix := range prefixes {
			keep = keep && !strings.HasPrefix(kv, prefix)
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

const (
	dummyAccessKey = "AKIAIOSFODNN7EXAMPLE"
	dummySecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// lockedBuffer collects a child's output from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is `baton-cognito serve` on an ephemeral loopback port.
type server struct {
	addr string
}

// startServer runs `baton-cognito serve --listen 127.0.0.1:0 args...` with `env` until the
// test ends, once it has printed the address it listens on. A failed test shows its logs.
func startServer(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	argv := append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(connectorBin, argv...)
	cmd.Env = env
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start baton-cognito serve: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("baton-cognito %s logged:\n%s", strings.Join(argv, " "), logs)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("the server did not start: %q (%v)", line, err)
	}
	return &server{addr: addr}
}

// runConnector runs the connector binary to completion and returns its stdout, failing the
// test with its stderr on a non-zero exit.
func runConnector(t testing.TB, env []string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, connectorBin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("baton-cognito %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}
