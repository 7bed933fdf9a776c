package conformance

// Deliverable: provisioning and actions through the SDK's client types, each change checked
// in the emulator with the AWS SDK for Go, each answer validated, and the answers decoded with
// the SDK's own helpers (annotations, credential decryption).

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/crypto/providers"
	"github.com/conductorone/baton-sdk/pkg/crypto/providers/jwk"
	"github.com/conductorone/baton-sdk/pkg/types"
)

func userRef(name string) *v2.Resource {
	return &v2.Resource{Id: &v2.ResourceId{ResourceType: "user", Resource: name}}
}

// provisioningServer serves the hostile pool with provisioning on, reached with the SDK's
// client types; every answer is validated by the returned validator.
func provisioningServer(t *testing.T, name string) (string, types.ConnectorClient, *validator) {
	t.Helper()
	poolID := seedHostilePool(t, shared, name)
	v := newValidator()
	return poolID, dial(t, startServer(t, shared.connectorEnv(poolID), "--provisioning").addr, v), v
}

// groupsOf lists the groups Cognito says `user` is in.
func groupsOf(t *testing.T, poolID, user string) []string {
	t.Helper()
	out, err := cognitoClient(shared).AdminListGroupsForUser(context.Background(),
		&cip.AdminListGroupsForUserInput{UserPoolId: &poolID, Username: &user})
	if err != nil {
		t.Fatalf("AdminListGroupsForUser %q: %v", user, err)
	}
	var groups []string
	for _, g := range out.Groups {
		groups = append(groups, aws.ToString(g.GroupName))
	}
	return groups
}

// cognitoUser reads one user with AdminGetUser; nil when Cognito has no such user.
func cognitoUser(t *testing.T, poolID, user string) *cip.AdminGetUserOutput {
	t.Helper()
	out, err := cognitoClient(shared).AdminGetUser(context.Background(),
		&cip.AdminGetUserInput{UserPoolId: &poolID, Username: &user})
	var missing *ciptypes.UserNotFoundException
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		t.Fatalf("AdminGetUser %q: %v", user, err)
	}
	return out
}

func contains(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}

func TestGrantAndRevokeTwiceThroughTheSDKsClient(t *testing.T) {
	t.Parallel()
	poolID, client, v := provisioningServer(t, "grant-revoke")
	ctx := context.Background()
	const group, user = "🚀 launch ✨", "ann lee"
	entitlements, err := client.ListEntitlements(ctx, &v2.EntitlementsServiceListEntitlementsRequest{
		Resource: &v2.Resource{Id: &v2.ResourceId{ResourceType: "group", Resource: group}}})
	if err != nil || len(entitlements.GetList()) != 1 {
		t.Fatalf("the group's entitlement: %v %v", entitlements, err)
	}
	member := entitlements.GetList()[0]

	first, err := client.Grant(ctx, &v2.GrantManagerServiceGrantRequest{Entitlement: member, Principal: userRef(user)})
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	firstAnnos := annotations.Annotations(first.GetAnnotations())
	if firstAnnos.Contains(&v2.GrantAlreadyExists{}) {
		t.Error("a new membership says it already existed")
	}
	if len(first.GetGrants()) != 1 || first.GetGrants()[0].GetId() != grantID(group, user) {
		t.Fatalf("Grant answered %v", first.GetGrants())
	}
	if !contains(groupsOf(t, poolID, user), group) {
		t.Fatalf("after Grant, %q is not in %q", user, group)
	}
	again, err := client.Grant(ctx, &v2.GrantManagerServiceGrantRequest{Entitlement: member, Principal: userRef(user)})
	if err != nil {
		t.Fatalf("second Grant: %v", err)
	}
	againAnnos := annotations.Annotations(again.GetAnnotations())
	if !againAnnos.Contains(&v2.GrantAlreadyExists{}) {
		t.Errorf("the second Grant carries no GrantAlreadyExists: %v", again.GetAnnotations())
	}

	granted := first.GetGrants()[0]
	revoked, err := client.Revoke(ctx, &v2.GrantManagerServiceRevokeRequest{Grant: granted})
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	revokedAnnos := annotations.Annotations(revoked.GetAnnotations())
	if revokedAnnos.Contains(&v2.GrantAlreadyRevoked{}) {
		t.Error("a removed membership says it was already revoked")
	}
	if contains(groupsOf(t, poolID, user), group) {
		t.Fatalf("after Revoke, %q is still in %q", user, group)
	}
	revokedAgain, err := client.Revoke(ctx, &v2.GrantManagerServiceRevokeRequest{Grant: granted})
	if err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	revokedAgainAnnos := annotations.Annotations(revokedAgain.GetAnnotations())
	if !revokedAgainAnnos.Contains(&v2.GrantAlreadyRevoked{}) {
		t.Errorf("the second Revoke carries no GrantAlreadyRevoked: %v", revokedAgain.GetAnnotations())
	}
	v.requireValid(t, "ListEntitlements", "Grant", "Revoke")
}

// accountRequest asks for a user `login` with an email and a custom attribute.
func accountRequest(t *testing.T, login string, options *v2.CredentialOptions, configs ...*v2.EncryptionConfig) *v2.CreateAccountRequest {
	t.Helper()
	profile, err := structpb.NewStruct(map[string]any{"given_name": "New", "custom:department": "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	return &v2.CreateAccountRequest{
		AccountInfo: &v2.AccountInfo{Login: login, Profile: profile,
			Emails: []*v2.AccountInfo_Email{{Address: login + "@example.com", IsPrimary: true}}},
		CredentialOptions: options,
		EncryptionConfigs: configs,
	}
}

func TestCreateAccountWithEveryAdvertisedCredentialOption(t *testing.T) {
	t.Parallel()
	poolID, client, v := provisioningServer(t, "create-account")
	ctx := context.Background()
	metadata, err := client.GetMetadata(ctx, &v2.ConnectorServiceGetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	advertised := metadata.GetMetadata().GetCapabilities().GetCredentialDetails().
		GetCapabilityAccountProvisioning().GetSupportedCredentialOptions()
	// Exactly these two, each exercised below: an option advertised later fails here until a
	// test covers it.
	want := []v2.CapabilityDetailCredentialOption{
		v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD,
		v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_RANDOM_PASSWORD,
	}
	if diff := cmp.Diff(want, advertised); diff != "" {
		t.Fatalf("advertised credential options (-want +got):\n%s", diff)
	}
	t.Run("no password", func(t *testing.T) { requireAccountWithoutPassword(t, client, poolID) })
	t.Run("random password", func(t *testing.T) { requireAccountWithRandomPassword(t, client, poolID) })
	v.requireValid(t, "GetMetadata", "CreateAccount")
}

func requireCreated(t *testing.T, resp *v2.CreateAccountResponse, login string) {
	t.Helper()
	if resp.WhichResult() != v2.CreateAccountResponse_Success_case {
		t.Fatalf("CreateAccount %q: %v", login, resp)
	}
	if id := resp.GetSuccess().GetResource().GetId(); id.GetResourceType() != "user" || id.GetResource() != login {
		t.Errorf("created %v, want user %q", id, login)
	}
}

func requireAccountWithoutPassword(t *testing.T, client types.ConnectorClient, poolID string) {
	ctx := context.Background()
	const login = "new-no-password"
	options := &v2.CredentialOptions{Options: &v2.CredentialOptions_NoPassword_{NoPassword: &v2.CredentialOptions_NoPassword{}}}
	resp, err := client.CreateAccount(ctx, accountRequest(t, login, options))
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	requireCreated(t, resp, login)
	if len(resp.GetEncryptedData()) != 0 {
		t.Errorf("no password was asked for, yet %d credentials came back", len(resp.GetEncryptedData()))
	}
	user := cognitoUser(t, poolID, login)
	if user == nil {
		t.Fatal("the account is not in Cognito")
	}
	attributes := map[string]string{}
	for _, a := range user.UserAttributes {
		attributes[*a.Name] = *a.Value
	}
	if attributes["email"] != login+"@example.com" || attributes["custom:department"] != "Ops" {
		t.Errorf("attributes %v", attributes)
	}
	again, err := client.CreateAccount(ctx, accountRequest(t, login, options))
	if err != nil || again.WhichResult() != v2.CreateAccountResponse_AlreadyExists_case {
		t.Errorf("the same account again: %v %v, want AlreadyExists", again, err)
	}
}

// requireAccountWithRandomPassword creates an account whose password the connector generates
// and returns encrypted to a key made by the SDK's own JWK provider, decrypts it with that
// provider, and signs in to Cognito with it.
func requireAccountWithRandomPassword(t *testing.T, client types.ConnectorClient, poolID string) {
	ctx := context.Background()
	cognito := cognitoClient(shared)
	const login = "new-random-password"
	provider, err := providers.GetEncryptionProvider(jwk.EncryptionProviderJwk)
	if err != nil {
		t.Fatal(err)
	}
	config, privateKey, err := provider.GenerateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	options := &v2.CredentialOptions{Options: &v2.CredentialOptions_RandomPassword_{
		RandomPassword: &v2.CredentialOptions_RandomPassword{Length: 24}}}
	resp, err := client.CreateAccount(ctx, accountRequest(t, login, options, config))
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	requireCreated(t, resp, login)
	if len(resp.GetEncryptedData()) != 1 {
		t.Fatalf("%d credentials came back, want the password", len(resp.GetEncryptedData()))
	}
	encrypted := resp.GetEncryptedData()[0]
	if encrypted.GetProvider() != jwk.EncryptionProviderJwk || len(encrypted.GetKeyIds()) != 1 ||
		encrypted.GetKeyIds()[0] != config.GetKeyId() {
		t.Errorf("encrypted for %q %v, want %q %q", encrypted.GetProvider(), encrypted.GetKeyIds(),
			jwk.EncryptionProviderJwk, config.GetKeyId())
	}
	plaintext, err := provider.Decrypt(ctx, encrypted, privateKey)
	if err != nil {
		t.Fatalf("the SDK cannot decrypt the password: %v", err)
	}
	password := string(plaintext.GetBytes())
	if len([]rune(password)) != 24 {
		t.Errorf("a password of %d characters, asked for 24", len([]rune(password)))
	}

	appClient, err := cognito.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: &poolID, ClientName: &[]string{"conformance"}[0],
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{ciptypes.ExplicitAuthFlowsTypeAllowAdminUserPasswordAuth,
			ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth}})
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(password string) (*cip.AdminInitiateAuthOutput, error) {
		return cognito.AdminInitiateAuth(ctx, &cip.AdminInitiateAuthInput{UserPoolId: &poolID,
			ClientId: appClient.UserPoolClient.ClientId, AuthFlow: ciptypes.AuthFlowTypeAdminUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": login, "PASSWORD": password}})
	}
	signedIn, err := signIn(password)
	if err != nil || signedIn.AuthenticationResult == nil {
		t.Fatalf("Cognito refuses the decrypted password: %v %v", signedIn, err)
	}
	var refused *ciptypes.NotAuthorizedException
	if _, err := signIn(password + "x"); !errors.As(err, &refused) {
		t.Errorf("a wrong password is not refused (%v): the sign-in proves nothing", err)
	}
}

func TestDeleteAccountsWithBothDeleteServices(t *testing.T) {
	t.Parallel()
	poolID, client, v := provisioningServer(t, "delete")
	ctx := context.Background()
	exists := func(user string) bool { return cognitoUser(t, poolID, user) != nil }
	for _, user := range []string{"ops:oncall", "a/b/c"} {
		if !exists(user) {
			t.Fatalf("%q is not in the pool to begin with", user)
		}
	}
	if _, err := client.DeleteResource(ctx, &v2.DeleteResourceRequest{ResourceId: userRef("ops:oncall").GetId()}); err != nil {
		t.Fatalf("DeleteResource: %v", err)
	}
	if _, err := client.DeleteResourceV2(ctx, &v2.DeleteResourceV2Request{ResourceId: userRef("a/b/c").GetId()}); err != nil {
		t.Fatalf("DeleteResourceV2: %v", err)
	}
	for _, user := range []string{"ops:oncall", "a/b/c"} {
		if exists(user) {
			t.Errorf("%q is still in Cognito", user)
		}
	}
	if !exists("ann lee") {
		t.Error("a user nobody deleted is gone")
	}
	v.requireValid(t, "DeleteResource", "DeleteResourceV2")
}

func TestEnableAndDisableActionsAndTargetedReads(t *testing.T) {
	t.Parallel()
	poolID, client, v := provisioningServer(t, "actions")
	ctx := context.Background()
	schemas, err := client.ListActionSchemas(ctx, &v2.ListActionSchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range schemas.GetSchemas() {
		names = append(names, s.GetName())
	}
	if !contains(names, "disable_user") || !contains(names, "enable_user") {
		t.Fatalf("action schemas %v", names)
	}

	const user = "שלום עולם"
	for _, step := range []struct {
		action  string
		enabled bool
		status  v2.Status_ResourceStatus
	}{
		{"disable_user", false, v2.Status_RESOURCE_STATUS_DISABLED},
		{"disable_user", false, v2.Status_RESOURCE_STATUS_DISABLED},
		{"enable_user", true, v2.Status_RESOURCE_STATUS_ENABLED},
	} {
		args, err := structpb.NewStruct(map[string]any{"user_id": user})
		if err != nil {
			t.Fatal(err)
		}
		invoked, err := client.InvokeAction(ctx, &v2.InvokeActionRequest{Name: step.action, Args: args})
		if err != nil {
			t.Fatalf("InvokeAction %s: %v", step.action, err)
		}
		// GetActionStatus until the action ends: asked at least once, whatever InvokeAction said.
		var status *v2.GetActionStatusResponse
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if status, err = client.GetActionStatus(ctx, &v2.GetActionStatusRequest{Id: invoked.GetId()}); err != nil {
				t.Fatalf("GetActionStatus: %v", err)
			}
			done := status.GetStatus() == v2.BatonActionStatus_BATON_ACTION_STATUS_COMPLETE ||
				status.GetStatus() == v2.BatonActionStatus_BATON_ACTION_STATUS_FAILED
			if done || time.Now().After(deadline) {
				break
			}
		}
		if status.GetStatus() != v2.BatonActionStatus_BATON_ACTION_STATUS_COMPLETE {
			t.Fatalf("%s: invoked %v, then %v", step.action, invoked.GetStatus(), status.GetStatus())
		}
		inCognito := cognitoUser(t, poolID, user)
		if inCognito == nil {
			t.Fatalf("after %s, the user is gone from Cognito", step.action)
		}
		if inCognito.Enabled != step.enabled {
			t.Fatalf("after %s, Cognito says enabled=%v", step.action, !step.enabled)
		}
		got, err := client.GetResource(ctx, &v2.ResourceGetterServiceGetResourceRequest{ResourceId: userRef(user).GetId()})
		if err != nil {
			t.Fatalf("GetResource: %v", err)
		}
		if got.GetResource().GetStatus().GetStatus() != step.status {
			t.Errorf("after %s GetResource says %v", step.action, got.GetResource().GetStatus())
		}
	}
	group, err := client.GetResource(ctx, &v2.ResourceGetterServiceGetResourceRequest{
		ResourceId: &v2.ResourceId{ResourceType: "group", Resource: `"quoted" group`}})
	if err != nil {
		t.Fatalf("GetResource of a group: %v", err)
	}
	requireGroup(t, group.GetResource(), readAWSPool(t, shared, poolID).groups[`"quoted" group`])
	v.requireValid(t, "ListActionSchemas", "InvokeAction", "GetActionStatus", "GetResource")
}
