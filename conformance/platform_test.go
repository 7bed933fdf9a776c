package conformance

// A local stand-in for the governance platform that both service-mode clients talk to: ours
// (`baton-cognito` with a client id and secret) and the SDK's own (its credential provider
// and c1api task manager). One HTTPS address serves the token endpoint and the BatonService
// over gRPC, as the platform does; it records what each client sends, checks every request
// with the SDK's validation rules, and hands each host id its own queue of tasks.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
)

// platformHost is the name both clients reach the platform by; its certificate names it.
const platformHost = "localhost"

// tokenRequest is one client-credentials token request as the platform received it.
type tokenRequest struct {
	form      url.Values
	header    map[string]any // the client assertion's JOSE header
	claims    map[string]any // and its claims
	signature error          // nil when the assertion verifies with the client's public key
}

type platform struct {
	v1.UnimplementedBatonServiceServer

	host         string // localhost:<port>
	caFile       string // the PEM CA that signed the platform's certificate
	clientID     string
	clientSecret string
	publicKey    ed25519.PublicKey
	server       *http.Server

	mu       sync.Mutex
	tokens   []tokenRequest
	issued   map[string]bool
	tasks    map[string][]*v1.Task // by host id
	finished map[string][]*v1.BatonServiceFinishTaskRequest
	invalid  []string // requests that broke the SDK's validation rules
}

// startPlatform serves the platform on 127.0.0.1 until the test ends.
func startPlatform(t *testing.T) *platform {
	t.Helper()
	dir := t.TempDir()
	certificate, caFile := testPKI(t, dir)
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{
		host:         fmt.Sprintf("%s:%d", platformHost, listener.Addr().(*net.TCPAddr).Port),
		caFile:       caFile,
		clientID:     "conformance@" + platformHost + "/cognito-test",
		clientSecret: clientSecret(public, private),
		publicKey:    public,
		issued:       map[string]bool{},
		tasks:        map[string][]*v1.Task{},
		finished:     map[string][]*v1.BatonServiceFinishTaskRequest{},
	}
	grpcServer := grpc.NewServer(grpc.ChainUnaryInterceptor(p.authenticate))
	v1.RegisterBatonServiceServer(grpcServer, p)
	p.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				grpcServer.ServeHTTP(w, r)
				return
			}
			p.token(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{certificate}, NextProtos: []string{"h2", "http/1.1"}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = p.server.ServeTLS(listener, "", "") }()
	t.Cleanup(func() {
		_ = p.server.Close()
		grpcServer.Stop()
	})
	return p
}

// clientSecret is a client secret in the platform's format: an Ed25519 private JWK, base64url.
func clientSecret(public ed25519.PublicKey, private ed25519.PrivateKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	jwk, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519",
		"x": b64(public), "d": b64(private.Seed())})
	return "secret-token:conductorone.com:v1:" + b64(jwk)
}

// testPKI makes a CA and a certificate it signs for localhost and 127.0.0.1, and writes the
// CA's PEM to a file in `dir`.
func testPKI(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	caKey, leafKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conformance platform CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: platformHost},
		DNSNames: []string{platformHost}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "platform-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, caFile
}

// token records a token request, checks its assertion and answers with a fresh token.
func (p *platform) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/auth/v1/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	request := tokenRequest{form: r.PostForm}
	request.header, request.claims, request.signature = p.verifyAssertion(r.PostForm.Get("client_assertion"))
	token := base64.RawURLEncoding.EncodeToString(randomBytes(24))
	p.mu.Lock()
	p.tokens = append(p.tokens, request)
	p.issued[token] = true
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "bearer", "expires_in": 3600})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// verifyAssertion decodes a compact JWS and checks its EdDSA signature with the client's key.
func (p *platform) verifyAssertion(jws string) (header, claims map[string]any, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("a JWS has 3 parts, this one %d", len(parts))
	}
	decode := func(part string, into any) error {
		raw, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, into)
	}
	if err := decode(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := decode(parts[1], &claims); err != nil {
		return header, nil, fmt.Errorf("claims: %w", err)
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return header, claims, err
	}
	if !ed25519.Verify(p.publicKey, []byte(parts[0]+"."+parts[1]), signature) {
		return header, claims, errors.New("the signature does not verify with the client's public key")
	}
	return header, claims, nil
}

// authenticate refuses calls without a token this platform issued, and records requests that
// break the SDK's validation rules.
func (p *platform) authenticate(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	authorization := md.Get("authorization")
	p.mu.Lock()
	ok := len(authorization) == 1 && strings.HasPrefix(authorization[0], "Bearer ") &&
		p.issued[strings.TrimPrefix(authorization[0], "Bearer ")]
	if problems := validateTree(req.(proto.Message), info.FullMethod); len(problems) > 0 {
		p.invalid = append(p.invalid, problems...)
	}
	p.mu.Unlock()
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no token this platform issued")
	}
	return handler(ctx, req)
}

func (p *platform) Hello(context.Context, *v1.BatonServiceHelloRequest) (*v1.BatonServiceHelloResponse, error) {
	return &v1.BatonServiceHelloResponse{}, nil
}

// GetTask hands the caller's host id its next task.
func (p *platform) GetTask(_ context.Context, req *v1.BatonServiceGetTaskRequest) (*v1.BatonServiceGetTaskResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &v1.BatonServiceGetTaskResponse{NextPoll: durationpb.New(100 * time.Millisecond),
		NextHeartbeat: durationpb.New(time.Second)}
	if queue := p.tasks[req.GetHostId()]; len(queue) > 0 {
		resp.Task, p.tasks[req.GetHostId()] = queue[0], queue[1:]
	}
	return resp, nil
}

func (p *platform) Heartbeat(context.Context, *v1.BatonServiceHeartbeatRequest) (*v1.BatonServiceHeartbeatResponse, error) {
	return &v1.BatonServiceHeartbeatResponse{NextHeartbeat: durationpb.New(time.Second)}, nil
}

func (p *platform) FinishTask(_ context.Context, req *v1.BatonServiceFinishTaskRequest) (*v1.BatonServiceFinishTaskResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished[req.GetHostId()] = append(p.finished[req.GetHostId()], req)
	return &v1.BatonServiceFinishTaskResponse{}, nil
}

// push queues a task for the client that says it is `hostID`.
func (p *platform) push(hostID string, task *v1.Task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tasks[hostID] = append(p.tasks[hostID], task)
}

// waitFinished waits for the first FinishTask of `hostID`.
func (p *platform) waitFinished(t *testing.T, hostID string, timeout time.Duration) *v1.BatonServiceFinishTaskRequest {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		finished := p.finished[hostID]
		p.mu.Unlock()
		if len(finished) > 0 {
			return finished[0]
		}
	}
	t.Fatalf("%s finished no task within %v", hostID, timeout)
	return nil
}

func (p *platform) tokenRequests() []tokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tokenRequest(nil), p.tokens...)
}
