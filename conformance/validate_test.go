package conformance

// Every answer our server gives passes through validator: the SDK's generated ValidateAll()
// (protoc-gen-validate rules from the upstream protos) on the response and on every message
// packed in a google.protobuf.Any inside it, which ValidateAll itself does not open.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/types"
)

type validatable interface{ ValidateAll() error }

// validator records, per gRPC method, how many answers it checked and every rule they broke.
type validator struct {
	mu       sync.Mutex
	checked  map[string]int
	failures []string
}

func newValidator() *validator { return &validator{checked: map[string]int{}} }

func (v *validator) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		return err
	}
	problems := validateTree(reply.(proto.Message), method)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.checked[method]++
	v.failures = append(v.failures, problems...)
	return nil
}

// validateTree runs ValidateAll on `msg` and on every Any packed anywhere inside it, which is
// resolved with the SDK's registered types: a type the SDK does not know is a failure too.
func validateTree(msg proto.Message, where string) []string {
	var problems []string
	if m, ok := msg.(validatable); ok {
		if err := m.ValidateAll(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %T: %v", where, msg, err))
		}
	} else {
		problems = append(problems, fmt.Sprintf("%s: %T has no ValidateAll", where, msg))
	}
	for _, packed := range anys(msg.ProtoReflect()) {
		inner, err := anypb.UnmarshalNew(packed, proto.UnmarshalOptions{})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: Any %s: %v", where, packed.GetTypeUrl(), err))
			continue
		}
		problems = append(problems, validateTree(inner, where+" > "+packed.GetTypeUrl())...)
	}
	return problems
}

// anys lists the Any messages directly or indirectly inside `m`, not descending into them.
func anys(m protoreflect.Message) []*anypb.Any {
	var found []*anypb.Any
	m.Range(func(fd protoreflect.FieldDescriptor, value protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		visit := func(child protoreflect.Message) {
			if a, ok := child.Interface().(*anypb.Any); ok {
				found = append(found, a)
				return
			}
			found = append(found, anys(child)...)
		}
		switch {
		case fd.IsList():
			list := value.List()
			for i := 0; i < list.Len(); i++ {
				visit(list.Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				value.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					visit(v.Message())
					return true
				})
			}
		default:
			visit(value.Message())
		}
		return true
	})
	return found
}

// requireValid fails the test with every broken rule, and for each of `methods` (gRPC method
// names) of which no answer was checked, so that a test cannot pass by checking nothing.
func (v *validator) requireValid(t testing.TB, methods ...string) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, failure := range v.failures {
		t.Errorf("validation: %s", failure)
	}
	for _, want := range methods {
		n := 0
		for method, count := range v.checked {
			if strings.HasSuffix(method, "/"+want) {
				n += count
			}
		}
		if n == 0 {
			t.Errorf("no %s answer was validated; checked: %v", want, v.checkedMethods())
		}
	}
}

func (v *validator) checkedMethods() []string {
	var out []string
	for method, n := range v.checked {
		out = append(out, fmt.Sprintf("%s=%d", method[strings.LastIndex(method, "/")+1:], n))
	}
	sort.Strings(out)
	return out
}

// dial connects to the server with the SDK's own connector client types, every answer
// validated by `v` (none when nil).
func dial(t testing.TB, addr string, v *validator) types.ConnectorClient {
	t.Helper()
	options := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if v != nil {
		options = append(options, grpc.WithChainUnaryInterceptor(v.unary))
	}
	conn, err := grpc.NewClient(addr, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return connectorclient.NewConnectorClient(context.Background(), conn)
}
