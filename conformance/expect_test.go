package conformance

// What a file made from a pool must hold, checked record by record against the pool as the
// AWS SDK for Go reads it from the emulator.

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
)

func memberEntitlementID(group string) string { return "group:" + group + ":member" }

func grantID(group, user string) string { return memberEntitlementID(group) + ":user:" + user }

// requireMatchesPool checks every resource type, user, group, entitlement and grant of
// `got`, and the user and group traits and profiles, against `pool`.
func requireMatchesPool(t *testing.T, got c1zContents, pool awsPool) {
	t.Helper()
	requireResourceTypes(t, got.resourceTypes)

	var wantUsers, wantGroups []string
	for name := range pool.users {
		wantUsers = append(wantUsers, name)
	}
	for name := range pool.groups {
		wantGroups = append(wantGroups, name)
	}
	requireSameSet(t, "users", wantUsers, idsOfType(got.resources, "user"))
	requireSameSet(t, "groups", wantGroups, idsOfType(got.resources, "group"))
	if n := len(got.resources); n != len(wantUsers)+len(wantGroups) {
		t.Errorf("%d resources, want %d users and %d groups", n, len(wantUsers), len(wantGroups))
	}
	for name, user := range pool.users {
		if r, ok := got.resources[resourceKey{"user", name}]; ok {
			t.Run("user "+name, func(t *testing.T) { requireUser(t, r, user) })
		}
	}
	for name, group := range pool.groups {
		if r, ok := got.resources[resourceKey{"group", name}]; ok {
			t.Run("group "+name, func(t *testing.T) { requireGroup(t, r, group) })
		}
	}

	var wantEntitlements, wantGrants []string
	for group, members := range pool.members {
		wantEntitlements = append(wantEntitlements, memberEntitlementID(group))
		for _, user := range members {
			wantGrants = append(wantGrants, grantID(group, user))
		}
	}
	requireSameSet(t, "entitlements", wantEntitlements, keys(got.entitlements))
	requireSameSet(t, "grants", wantGrants, keys(got.grants))
	for id, e := range got.entitlements {
		requireEntitlement(t, id, e)
	}
	for group, members := range pool.members {
		for _, user := range members {
			if g, ok := got.grants[grantID(group, user)]; ok {
				requireGrant(t, g, group, user)
			}
		}
	}
}

func requireResourceTypes(t *testing.T, types map[string]*v2.ResourceType) {
	t.Helper()
	want := map[string]v2.ResourceType_Trait{"user": v2.ResourceType_TRAIT_USER, "group": v2.ResourceType_TRAIT_GROUP}
	requireSameSet(t, "resource types", keys(want), keys(types))
	for id, trait := range want {
		rt, ok := types[id]
		if !ok {
			continue
		}
		if traits := rt.GetTraits(); len(traits) != 1 || traits[0] != trait {
			t.Errorf("resource type %s: traits %v, want [%v]", id, traits, trait)
		}
		if rt.GetDisplayName() == "" {
			t.Errorf("resource type %s has no display name", id)
		}
	}
}

func requireUser(t *testing.T, r *v2.Resource, user ciptypes.UserType) {
	username := aws.ToString(user.Username)
	if r.GetDisplayName() == "" {
		t.Error("no display name")
	}
	if r.GetParentResourceId() != nil {
		t.Errorf("a parent %v; one pool has none", r.GetParentResourceId())
	}
	trait := &v2.UserTrait{}
	requireAnnotation(t, r.GetAnnotations(), trait)

	email := attribute(user, "email")
	var emails []string
	for _, e := range trait.GetEmails() {
		emails = append(emails, fmt.Sprintf("%s primary=%v", e.GetAddress(), e.GetIsPrimary()))
	}
	if email == "" && len(emails) != 0 || email != "" && (len(emails) != 1 || emails[0] != email+" primary=true") {
		t.Errorf("emails %v, want the email attribute %q as the primary one", emails, email)
	}
	if trait.GetLogin() != username {
		t.Errorf("login %q, want the username %q", trait.GetLogin(), username)
	}
	if trait.GetAccountType() != v2.UserTrait_ACCOUNT_TYPE_HUMAN {
		t.Errorf("account type %v", trait.GetAccountType())
	}
	wantStatus := v2.Status_RESOURCE_STATUS_ENABLED
	wantTraitStatus := v2.UserTrait_Status_STATUS_ENABLED
	if !user.Enabled {
		wantStatus, wantTraitStatus = v2.Status_RESOURCE_STATUS_DISABLED, v2.UserTrait_Status_STATUS_DISABLED
	}
	if r.GetStatus().GetStatus() != wantStatus || r.GetStatus().GetDetails() != string(user.UserStatus) {
		t.Errorf("resource status %v %q, want %v %q", r.GetStatus().GetStatus(), r.GetStatus().GetDetails(),
			wantStatus, user.UserStatus)
	}
	//nolint:staticcheck // the trait's own status is deprecated but still read by the platform
	if trait.GetStatus().GetStatus() != wantTraitStatus || trait.GetStatus().GetDetails() != string(user.UserStatus) {
		t.Errorf("trait status %v %q, want %v %q", trait.GetStatus().GetStatus(), trait.GetStatus().GetDetails(),
			wantTraitStatus, user.UserStatus)
	}
	federated := user.UserStatus == ciptypes.UserStatusTypeExternalProvider
	if trait.GetSsoStatus().GetSsoEnabled() != federated {
		t.Errorf("sso %v, federated %v", trait.GetSsoStatus().GetSsoEnabled(), federated)
	}
	given, family := attribute(user, "given_name"), attribute(user, "family_name")
	name := trait.GetStructuredName()
	if name.GetGivenName() != given || name.GetFamilyName() != family {
		t.Errorf("structured name %q %q, want %q %q", name.GetGivenName(), name.GetFamilyName(), given, family)
	}
	requireTime(t, "created_at", r.GetCreatedAt(), user.UserCreateDate)
	requireProfileDate(t, r.GetProfile().GetFields(), "cognito:user_create_date", user.UserCreateDate)
	requireProfileDate(t, r.GetProfile().GetFields(), "cognito:user_last_modified_date", user.UserLastModifiedDate)

	profile := r.GetProfile().GetFields()
	for _, a := range user.Attributes {
		requireProfileText(t, profile, aws.ToString(a.Name), aws.ToString(a.Value))
	}
	requireProfileText(t, profile, "cognito:username", username)
	requireProfileText(t, profile, "cognito:user_status", string(user.UserStatus))
	if v, ok := profile["cognito:enabled"]; !ok || v.GetBoolValue() != user.Enabled {
		t.Errorf("profile cognito:enabled %v, want %v", v, user.Enabled)
	}
}

func requireGroup(t *testing.T, r *v2.Resource, group ciptypes.GroupType) {
	name := aws.ToString(group.GroupName)
	if r.GetDisplayName() != name {
		t.Errorf("display name %q, want %q", r.GetDisplayName(), name)
	}
	if r.GetDescription() != aws.ToString(group.Description) {
		t.Errorf("description %q, want %q", r.GetDescription(), aws.ToString(group.Description))
	}
	requireAnnotation(t, r.GetAnnotations(), &v2.GroupTrait{})
	requireTime(t, "created_at", r.GetCreatedAt(), group.CreationDate)
	requireProfileDate(t, r.GetProfile().GetFields(), "cognito:creation_date", group.CreationDate)
	requireProfileDate(t, r.GetProfile().GetFields(), "cognito:last_modified_date", group.LastModifiedDate)
	profile := r.GetProfile().GetFields()
	requireProfileText(t, profile, "group_name", name)
	if d := aws.ToString(group.Description); d != "" {
		requireProfileText(t, profile, "description", d)
	}
	if arn := aws.ToString(group.RoleArn); arn != "" {
		requireProfileText(t, profile, "role_arn", arn)
	}
	if group.Precedence != nil {
		if v, ok := profile["precedence"]; !ok || v.GetNumberValue() != float64(*group.Precedence) {
			t.Errorf("profile precedence %v, want %d", v, *group.Precedence)
		}
	} else if _, ok := profile["precedence"]; ok {
		t.Error("a precedence the group does not have")
	}
}

func requireEntitlement(t *testing.T, id string, e *v2.Entitlement) {
	group := e.GetResource().GetId()
	if group.GetResourceType() != "group" || memberEntitlementID(group.GetResource()) != id {
		t.Errorf("entitlement %s on %v", id, group)
	}
	if e.GetSlug() != "member" || e.GetPurpose() != v2.Entitlement_PURPOSE_VALUE_ASSIGNMENT {
		t.Errorf("entitlement %s: slug %q purpose %v", id, e.GetSlug(), e.GetPurpose())
	}
	if e.GetDisplayName() == "" {
		t.Errorf("entitlement %s has no display name", id)
	}
	if to := e.GetGrantableTo(); len(to) != 1 || to[0].GetId() != "user" {
		t.Errorf("entitlement %s grantable to %v, want users", id, to)
	}
}

func requireGrant(t *testing.T, g *v2.Grant, group, user string) {
	if id := g.GetEntitlement().GetId(); id != memberEntitlementID(group) {
		t.Errorf("grant %s: entitlement %q", g.GetId(), id)
	}
	if r := g.GetEntitlement().GetResource().GetId(); r.GetResourceType() != "group" || r.GetResource() != group {
		t.Errorf("grant %s: entitlement resource %v", g.GetId(), r)
	}
	if p := g.GetPrincipal().GetId(); p.GetResourceType() != "user" || p.GetResource() != user {
		t.Errorf("grant %s: principal %v", g.GetId(), p)
	}
}

// requireAnnotation unpacks the one annotation of `into`'s type; none or two is an error.
func requireAnnotation(t *testing.T, annos []*anypb.Any, into proto.Message) {
	t.Helper()
	found := 0
	for _, a := range annos {
		if a.MessageIs(into) {
			found++
			if err := a.UnmarshalTo(into); err != nil {
				t.Errorf("%T: %v", into, err)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d %T annotations, want 1", found, into)
	}
}

func requireProfileText(t *testing.T, profile map[string]*structpb.Value, key, want string) {
	t.Helper()
	if got, ok := profile[key]; !ok || got.GetStringValue() != want {
		t.Errorf("profile %q = %v, want %q", key, got, want)
	}
}

// requireProfileDate checks a profile date (RFC 3339 text) against the date Cognito sent.
func requireProfileDate(t *testing.T, profile map[string]*structpb.Value, key string, want *time.Time) {
	t.Helper()
	if want == nil {
		if value, ok := profile[key]; ok {
			t.Errorf("profile %q = %v, Cognito sent no date", key, value)
		}
		return
	}
	text := profile[key].GetStringValue()
	got, err := time.Parse(time.RFC3339Nano, text)
	if err != nil || !got.Equal(*want) {
		t.Errorf("profile %q = %q, want %v", key, text, want.UTC().Format(time.RFC3339Nano))
	}
}

// requireTime compares a timestamp with the date Cognito sent, as the AWS SDK for Go parses it.
func requireTime(t *testing.T, what string, got *timestamppb.Timestamp, want *time.Time) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("%s %v, Cognito sent none", what, got.AsTime())
		}
		return
	}
	if got == nil || !got.IsValid() {
		t.Errorf("%s missing or invalid, want %v", what, *want)
		return
	}
	if !got.AsTime().Equal(*want) {
		t.Errorf("%s %v, want %v", what, got.AsTime(), *want)
	}
}

func idsOfType(resources map[resourceKey]*v2.Resource, resourceType string) []string {
	var ids []string
	for key := range resources {
		if key.resourceType == resourceType {
			ids = append(ids, key.id)
		}
	}
	return ids
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// requireSameSet fails with what is missing, what is extra and what `got` lists twice.
func requireSameSet(t *testing.T, what string, want, got []string) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	gotSet := map[string]bool{}
	var extra, missing []string
	for _, g := range got {
		if gotSet[g] {
			t.Errorf("%s: %q listed twice", what, g)
		}
		gotSet[g] = true
		if !wantSet[g] {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !gotSet[w] {
			missing = append(missing, w)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra)+len(missing) > 0 {
		t.Errorf("%s: missing %q, extra %q", what, missing, extra)
	}
	if len(want) == 0 {
		t.Errorf("%s: the pool has none, so nothing was checked", what)
	}
}
