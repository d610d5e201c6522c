package keyctl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// WorkOS keeps no rate limits or quotas: create and set refuse the flags
// that would set them (exit 2), and nothing is created.
func TestLimitsNeedAStore(t *testing.T) {
	for _, args := range [][]string{
		{"create", "--org", "org_1", "--name", "ci", "--limit", "default=10/1s"},
		{"create", "--org", "org_1", "--name", "ci", "--quota", "100"},
		{"set", "api_key_0001", "--quota", "100"},
		{"set", "api_key_0001", "--no-limits"},
	} {
		t.Run(args[0]+" "+args[len(args)-2], func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			r := h.run(in(""), args...)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, "WorkOS keeps no rate limits or quotas")
			_, created := h.srv.Key("api_key_0002")
			assert.False(t, created)
		})
	}
}
