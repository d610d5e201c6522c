package keyctl

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const aliceValue = "sk_live_alice_0123456789abcdef"

func TestValidate(t *testing.T) {
	t.Run("a valid key prints its fields", func(t *testing.T) {
		h := newHarness(t)
		k := h.srv.AddKey(aliceValue, "Alice's key", "org_1", "posts:read", "posts:write")
		h.srv.UpdateKey(k.ID, func(k *workostest.Key) { k.LastUsedAt = testNow.Add(-time.Hour) })
		r := h.run(in(aliceValue+"\n"), "validate")
		requireCode(t, exitOK, r)
		for _, want := range []string{
			"id           " + k.ID,
			"name         Alice's key",
			"owner        organization org_1",
			"display      sk_...cdef",
			"permissions  posts:read posts:write",
			"expires      never",
			"last used    2026-03-01T11:00:00Z",
			"created      2026-01-15T12:00:00Z",
		} {
			assert.Contains(t, r.stdout, want+"\n")
		}
		assert.Empty(t, r.stderr)
	})

	t.Run("--json prints the key as an object", func(t *testing.T) {
		h := newHarness(t)
		k := h.srv.AddUserKey(aliceValue, "Alice", "user_1", "org_1", "posts:read")
		h.srv.SetExpiresAt(k.ID, testNow.Add(48*time.Hour))
		r := h.run(in(aliceValue), "validate", "--json")
		requireCode(t, exitOK, r)
		var got struct {
			ID    string `json:"id"`
			Owner struct {
				Type, ID       string
				OrganizationID string `json:"organization_id"`
			} `json:"owner"`
			DisplayValue string    `json:"display_value"`
			ExpiresAt    time.Time `json:"expires_at"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
		assert.Equal(t, k.ID, got.ID)
		assert.Equal(t, "user", got.Owner.Type)
		assert.Equal(t, "org_1", got.Owner.OrganizationID)
		assert.Equal(t, "sk_...cdef", got.DisplayValue)
		assert.True(t, testNow.Add(48*time.Hour).Equal(got.ExpiresAt))
	})

	for _, tc := range []struct {
		name  string
		setup func(h *harness)
	}{
		{"an unknown key", func(h *harness) {}},
		{"a deleted key", func(h *harness) {
			k := h.srv.AddKey(aliceValue, "Alice", "org_1")
			h.srv.Revoke(k.ID)
		}},
		{"an expired key", func(h *harness) {
			k := h.srv.AddKey(aliceValue, "Alice", "org_1")
			h.srv.SetExpiresAt(k.ID, testNow.Add(-time.Minute))
		}},
	} {
		t.Run(tc.name+" exits 1", func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			r := h.run(in(aliceValue+"\n"), "validate")
			requireCode(t, exitNo, r)
			assert.Empty(t, r.stdout)
			require.Len(t, r.stderrLines(), 1)
			assert.Contains(t, r.stderr, "apikeys validate: not a valid key")
		})
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		env         map[string]string
		fault       workostest.Fault
		want        []string
		requests    int
	}{
		{name: "an outage", stdin: aliceValue,
			fault: workostest.Reply(503, `{"message":"down"}`, "X-Request-ID", "req_outage_1"),
			want:  []string{"unavailable", "HTTP 503", "req_outage_1"}, requests: -1},
		{name: "a rate limit", stdin: aliceValue,
			fault: workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`, "X-Request-ID", "req_429", "Retry-After", "7"),
			want:  []string{"429", "req_429"}, requests: 1},
		{name: "a refused secret key", stdin: aliceValue, env: map[string]string{"WORKOS_API_KEY": "sk_test_wrong"},
			want: []string{"misconfigured", "401", "req_fake_401", "check WORKOS_API_KEY"}, requests: 1},
		{name: "no secret key", stdin: aliceValue, env: map[string]string{"WORKOS_API_KEY": ""},
			want: []string{"WORKOS_API_KEY is not set"}},
		{name: "a base URL that is not WorkOS", stdin: aliceValue, env: map[string]string{"WORKOS_BASE_URL": "ftp://example"},
			want: []string{"base URL"}},
		{name: "nothing on stdin", stdin: "", want: []string{"no key given", "--help"}},
		{name: "two keys on stdin", stdin: aliceValue + "\n" + aliceValue + "\n", want: []string{"several lines"}},
		{name: "an argument", stdin: aliceValue, args: []string{aliceValue}, want: []string{"takes no arguments", "keys are read from stdin"}},
		{name: "an unknown flag", stdin: aliceValue, args: []string{"--key"}, want: []string{`unknown flag "--key"`}},
	} {
		t.Run(tc.name+" exits 2 with one line", func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			for k, v := range tc.env {
				h.env[k] = v
			}
			if tc.fault != nil {
				h.srv.FailAll(tc.fault)
			}
			r := h.run(in(tc.stdin), append([]string{"validate"}, tc.args...)...)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			require.Len(t, r.stderrLines(), 1, r.stderr)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
			switch {
			case tc.requests > 0:
				assert.Len(t, h.srv.Requests(), tc.requests)
			case tc.requests == 0:
				assert.Empty(t, h.srv.Requests())
			}
		})
	}

	t.Run("--api-key-file overrides WORKOS_API_KEY", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.env["WORKOS_API_KEY"] = "sk_test_wrong"
		file := filepath.Join(t.TempDir(), "secret")
		require.NoError(t, os.WriteFile(file, []byte(workostest.SecretKey+"\n"), 0o600))
		requireCode(t, exitOK, h.run(in(aliceValue), "validate", "--api-key-file", file))
		r := h.run(in(aliceValue), "validate", "--api-key-file", file+".missing")
		requireCode(t, exitUndecided, r)
		assert.Contains(t, r.stderr, "--api-key-file")
	})

	t.Run("--base-url overrides WORKOS_BASE_URL", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.env["WORKOS_BASE_URL"] = workostest.ClosedURL()
		requireCode(t, exitOK, h.run(in(aliceValue), "validate", "--base-url", h.srv.URL))
	})

	t.Run("--timeout gives up", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.FailAll(workostest.Slow(time.Minute))
		start := time.Now()
		r := h.run(in(aliceValue), "validate", "--timeout", "100ms")
		requireCode(t, exitUndecided, r)
		assert.Less(t, time.Since(start), 30*time.Second)
		assert.Equal(t, "apikeys validate: no answer from WorkOS within --timeout\n", r.stderr)
	})

	t.Run("an interrupt stops it", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.FailAll(workostest.Slow(time.Minute))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go cancelOnRequest(ctx, h.srv, cancel)
		r := h.runCtx(ctx, in(aliceValue), "validate")
		requireCode(t, exitUndecided, r)
		assert.Equal(t, "apikeys validate: interrupted\n", r.stderr)
	})
}

// cancelOnRequest calls cancel once srv has received a request.
func cancelOnRequest(ctx context.Context, srv *workostest.Server, cancel func()) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for len(srv.Requests()) == 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	cancel()
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	r := h.run(in(""), "--help")
	requireCode(t, exitOK, r)
	for _, c := range commands {
		assert.Contains(t, r.stdout, "  "+c.name+" ")
		rc := h.run(in(""), c.name, "--help")
		requireCode(t, exitOK, rc)
		assert.Contains(t, rc.stdout, "Usage: apikeys "+c.name)
		assert.Contains(t, rc.stdout, "Examples:")
		assert.Contains(t, rc.stdout, "Exit status:")
		assert.Contains(t, rc.stdout, "-timeout D")
		assert.Equal(t, rc.stdout, h.run(in(""), "help", c.name).stdout)
	}
	assert.Empty(t, h.srv.Requests())

	r = h.run(in(""))
	requireCode(t, exitUndecided, r)
	assert.Equal(t, "apikeys: a command is needed (validate, list, audit, create, rotate, expire, delete, revoke, set); run 'apikeys --help'\n", r.stderr)
	r = h.run(in(""), "--timeout", "5s")
	requireCode(t, exitUndecided, r)
	assert.Contains(t, r.stderr, "apikeys: a command is needed")
	r = h.run(in(""), "remove")
	requireCode(t, exitUndecided, r)
	assert.Equal(t, "apikeys: unknown command \"remove\"; run 'apikeys --help'\n", r.stderr)
	r = h.run(in(""), aliceValue)
	requireCode(t, exitUndecided, r)
	assert.Equal(t, "apikeys: unknown command given; run 'apikeys --help'\n", r.stderr)
	assert.True(t, strings.HasPrefix(h.run(in(""), "help").stdout, "apikeys runs"))
	assert.Equal(t, h.run(in(""), "--help").stdout, h.run(in(""), "--timeout", "5s", "--help").stdout)
	assert.Equal(t, h.run(in(""), "list", "--help").stdout, h.run(in(""), "--timeout", "5s", "--help", "list").stdout)
	assert.Contains(t, h.run(in(""), "--help").stdout, "revoke    the same as delete")
}
