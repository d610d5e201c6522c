package demo

import "github.com/apikeyauth/apikey"

// Keys are the two keys the quick start accepts, by value (examples/chi and
// examples/nethttp hold the same, which CheckRoutes checks). A real service
// keeps keys in WorkOS (see examples/workos) or its own store, never in code.
var Keys = map[string]apikey.Key{
	"sk_demo_reader": {
		ID: "key_demo_reader", Name: "Demo reader",
		Owner:       apikey.Owner{Type: "organization", ID: "org_demo"},
		Permissions: []string{"posts:read"},
	},
	"sk_demo_writer": {
		ID: "key_demo_writer", Name: "Demo writer",
		Owner:       apikey.Owner{Type: "organization", ID: "org_demo"},
		Permissions: []string{"posts:read", "posts:write"},
	},
}
