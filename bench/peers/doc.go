// Package peers benchmarks the apikey middleware's authenticated cache-hit
// path against a bare handler and against peer authentication middleware
// (echo's KeyAuth and auth0's go-jwt-middleware), side by side in one
// go test -bench run. It is a separate module so that the peers never enter
// the root go.mod; see README.md.
package peers
