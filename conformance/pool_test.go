package conformance

// The hostile pool every conformance test reads, and the pool as an independent Cognito client
// (the AWS SDK for Go, over the emulator's AWS API) reports it: the truth the connector's output
// is checked against.

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// oddNames are user and group names that break naive id handling: separators of Baton ids,
// path separators, spaces, quotes, emoji, right-to-left scripts.
var oddNames = []string{
	"ann lee", "ops:oncall", "a/b/c", `quote"d`, "it's", "🦀 crab", "שלום עולם", "مرحبا",
	"x:y:member:user:z",
}

// bigGroupMembers is more than a Cognito page (60), so memberships page.
const bigGroupMembers = 75

// seedHostilePool creates the pool in `e`: users without email, disabled, unconfirmed,
// reset-required, force-change-password and federated users, a custom attribute, odd names,
// a group of more than 60 members and an empty group. It returns the pool id.
func seedHostilePool(t testing.TB, e *emulator, name string) string {
	t.Helper()
	var users []map[string]any
	for _, odd := range oddNames {
		users = append(users, map[string]any{"username": odd}) // no attributes: no email
	}
	users = append(users,
		map[string]any{"username": "jane.doe", "attributes": map[string]any{
			"email": "jane@example.com", "given_name": "Jane", "family_name": "Doe",
			"middle_name": "Quinn", "name": "Jane Q. Doe", "preferred_username": "jdoe",
			"phone_number": "+15555550100", "custom:department": "Engineering / R&D"}},
		map[string]any{"username": "disabled-dora", "enabled": false,
			"attributes": map[string]any{"email": "dora@example.com"}},
		map[string]any{"username": "unconfirmed-ulla", "status": "UNCONFIRMED",
			"attributes": map[string]any{"email": "ulla@example.com"}},
		map[string]any{"username": "reset-rita", "status": "RESET_REQUIRED",
			"attributes": map[string]any{"email": "rita@example.com", "given_name": "Rita"}},
		map[string]any{"username": "force-fred", "status": "FORCE_CHANGE_PASSWORD",
			"attributes": map[string]any{"email": "fred@example.com", "family_name": "Frederiksen"}},
		map[string]any{"username": "Google_1234567890", "status": "EXTERNAL_PROVIDER",
			"attributes": map[string]any{"email": "g@example.com", "name": "Federated Gabi"}},
	)
	var memberships [][2]string
	for i := 0; i < bigGroupMembers; i++ {
		member := fmt.Sprintf("member-%03d", i)
		users = append(users, map[string]any{"username": member, "enabled": i%9 != 0,
			"attributes": map[string]any{"email": member + "@example.com",
				"custom:department": fmt.Sprintf("dept-%d", i%4)}})
		memberships = append(memberships, [2]string{"everyone", member})
	}
	groups := []map[string]any{
		{"name": "everyone", "description": "more members than a page", "precedence": 10},
		{"name": "nobody", "description": "an empty group"},
		{"name": "team: red/blue", "precedence": 0,
			"role_arn": "arn:aws:iam::123456789012:role/red-blue"},
		{"name": `"quoted" group`, "description": `says "hi" \ bye`},
		{"name": "🚀 launch ✨"},
		{"name": "צוות אדום", "description": "קבוצה"},
		{"name": "g:member:user:x"},
	}
	for _, odd := range oddNames {
		memberships = append(memberships, [2]string{"team: red/blue", odd}, [2]string{"צוות אדום", odd})
	}
	for _, u := range []string{"jane.doe", "disabled-dora", "unconfirmed-ulla", "reset-rita",
		"force-fred", "Google_1234567890", "🦀 crab"} {
		memberships = append(memberships, [2]string{`"quoted" group`, u}, [2]string{"🚀 launch ✨", u})
	}
	memberships = append(memberships, [2]string{"g:member:user:x", "x:y:member:user:z"},
		[2]string{"everyone", "jane.doe"})
	return e.createPool(t, map[string]any{
		"name": name, "users": users, "groups": groups, "memberships": memberships,
	})
}

// awsPool is a pool as Cognito reports it, read page by page with the AWS SDK for Go.
type awsPool struct {
	users   map[string]ciptypes.UserType  // by Username
	groups  map[string]ciptypes.GroupType // by GroupName
	members map[string][]string           // group name -> sorted usernames
}

func cognitoClient(e *emulator) *cip.Client {
	return cip.New(cip.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.url),
		Credentials:  credentials.NewStaticCredentialsProvider(dummyAccessKey, dummySecretKey, ""),
	})
}

func readAWSPool(t testing.TB, e *emulator, poolID string) awsPool {
	t.Helper()
	ctx := context.Background()
	client := cognitoClient(e)
	pool := awsPool{users: map[string]ciptypes.UserType{}, groups: map[string]ciptypes.GroupType{},
		members: map[string][]string{}}
	users := cip.NewListUsersPaginator(client, &cip.ListUsersInput{UserPoolId: &poolID})
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		for _, u := range page.Users {
			pool.users[aws.ToString(u.Username)] = u
		}
	}
	groups := cip.NewListGroupsPaginator(client, &cip.ListGroupsInput{UserPoolId: &poolID})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		for _, g := range page.Groups {
			pool.groups[aws.ToString(g.GroupName)] = g
		}
	}
	for name := range pool.groups {
		in := cip.NewListUsersInGroupPaginator(client,
			&cip.ListUsersInGroupInput{UserPoolId: &poolID, GroupName: aws.String(name)})
		members := []string{}
		for in.HasMorePages() {
			page, err := in.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListUsersInGroup %q: %v", name, err)
			}
			for _, u := range page.Users {
				members = append(members, aws.ToString(u.Username))
			}
		}
		sort.Strings(members)
		pool.members[name] = members
	}
	return pool
}

// attribute is a user's attribute value, or "" when the user has none of that name.
func attribute(u ciptypes.UserType, name string) string {
	for _, a := range u.Attributes {
		if aws.ToString(a.Name) == name {
			return aws.ToString(a.Value)
		}
	}
	return ""
}
