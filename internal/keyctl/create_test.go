package keyctl

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreate(t *testing.T) {
	t.Run("prints the value alone on stdout, the warning on stderr", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		r := h.run(in(""), "create", "--org", "org_1", "--name", "billing sync",
			"--permission", "invoices:read", "--permission", "invoices:write", "--expires-in", "90d")
		requireCode(t, exitOK, r)
		k, ok := h.srv.Key("api_key_0002")
		require.True(t, ok)
		assert.Equal(t, k.Value+"\n", r.stdout)
		assert.Equal(t, "billing sync", k.Name)
		assert.Equal(t, []string{"invoices:read", "invoices:write"}, k.Permissions)
		assert.True(t, testNow.Add(90*day).Equal(k.ExpiresAt), "%v", k.ExpiresAt)
		assert.Equal(t, `apikeys create: created api_key_0002 ("billing sync", permissions invoices:read invoices:write, expires 2026-05-30T12:00:00Z); its value is on stdout and will not be shown again: store it now`+"\n", r.stderr)

		// The value works.
		requireCode(t, exitOK, h.run(in(r.stdout), "validate"))
	})

	t.Run("a lost answer is retried with the same Idempotency-Key: one key", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.Fail(h.srv.LostAnswer())
		r := h.run(in(""), "create", "--org", "org_1", "--name", "ci")
		requireCode(t, exitOK, r)
		k, ok := h.srv.Key("api_key_0002")
		require.True(t, ok)
		assert.Equal(t, k.Value+"\n", r.stdout)
		_, ok = h.srv.Key("api_key_0003")
		assert.False(t, ok, "a second key was created")
		var posts []string
		for _, req := range h.srv.Requests() {
			if req.Method == http.MethodPost {
				posts = append(posts, req.Header.Get("Idempotency-Key"))
			}
		}
		require.Len(t, posts, 2)
		assert.Equal(t, posts[0], posts[1])
	})

	t.Run("an answer with the value but a broken description still hands the value over", func(t *testing.T) {
		h := newHarness(t)
		const value = "sk_live_partial_value_0042"
		h.handed = append(h.handed, value)
		h.srv.Fail(workostest.Reply(201, `{"object":"api_key","id":"api_key_9","name":"ci","value":"`+value+`","expires_at":"soon"}`))
		r := h.run(in(""), "create", "--org", "org_1", "--name", "ci")
		requireCode(t, exitUndecided, r)
		assert.Equal(t, value+"\n", r.stdout)
		lines := r.stderrLines()
		require.Len(t, lines, 2)
		assert.Contains(t, lines[0], "will not be shown again")
		assert.Contains(t, lines[1], "the key was created and its value printed, but WorkOS's answer was incomplete")
	})

	for _, tc := range []struct {
		name  string
		args  []string
		fault workostest.Fault
		want  []string
	}{
		{"no name", []string{"--org", "org_1"}, nil, []string{"--name is required"}},
		{"no org", []string{"--name", "n"}, nil, []string{"--org is required"}},
		{"a bad permission", []string{"--org", "org_1", "--name", "n", "--permission", "a b"}, nil, []string{"has spaces"}},
		{"an unknown organization", []string{"--org", "org_nobody", "--name", "n"}, nil, []string{"HTTP 404", "Organization not found", "req_fake_404"}},
		{"WorkOS refuses", []string{"--org", "org_1", "--name", "n"},
			workostest.Reply(422, `{"message":"Validation failed.","errors":[{"code":"invalid","field":"permissions"}]}`, "X-Request-ID", "req_422"),
			[]string{"HTTP 422", "permissions: invalid", "req_422"}},
		{"an outage", []string{"--org", "org_1", "--name", "n"}, workostest.Reply(503, ""), []string{"HTTP 503"}},
	} {
		t.Run(tc.name+" exits 2 and prints no value", func(t *testing.T) {
			h := newHarness(t)
			h.srv.AddKey(aliceValue, "Alice", "org_1")
			if tc.fault != nil {
				h.srv.FailAll(tc.fault)
			}
			r := h.run(in(""), append([]string{"create"}, tc.args...)...)
			requireCode(t, exitUndecided, r)
			assert.Empty(t, r.stdout)
			require.Len(t, r.stderrLines(), 1)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
			_, created := h.srv.Key("api_key_0002")
			assert.False(t, created)
		})
	}
}

func TestExpire(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want time.Time
		out  string
	}{
		{"now", nil, testNow, "api_key_0001 expires at 2026-03-01T12:00:00Z\n"},
		{"--in", []string{"--in", "7d"}, testNow.Add(7 * day), "api_key_0001 expires at 2026-03-08T12:00:00Z\n"},
		{"--at", []string{"--at", "2026-12-31T23:59:00Z"}, time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), "api_key_0001 expires at 2026-12-31T23:59:00Z\n"},
		{"--at a date", []string{"--at", "2027-01-01"}, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), "api_key_0001 expires at 2027-01-01T00:00:00Z\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			k := h.srv.AddKey(aliceValue, "Alice", "org_1")
			// Flags before or after the ID.
			r := h.run(in(""), append([]string{"expire", k.ID}, tc.args...)...)
			requireCode(t, exitOK, r)
			assert.Equal(t, tc.out, r.stdout)
			assert.Empty(t, r.stderr)
			got, _ := h.srv.Key(k.ID)
			assert.True(t, tc.want.Equal(got.ExpiresAt), "%v", got.ExpiresAt)
		})
	}

	t.Run("an expired key, or an unknown one, exits 1", func(t *testing.T) {
		h := newHarness(t)
		k := h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.SetExpiresAt(k.ID, testNow.Add(-time.Hour))
		r := h.run(in(""), "expire", k.ID)
		requireCode(t, exitNo, r)
		assert.Contains(t, r.stderr, "api_key_already_expired")
		r = h.run(in(""), "expire", "--in", "1h", "api_key_9999")
		requireCode(t, exitNo, r)
		assert.Contains(t, r.stderr, "HTTP 404")
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"expire"}, "takes one argument, got 0"},
		{[]string{"expire", "a", "b"}, "takes one argument, got 2"},
		{[]string{"expire", "a", "--at", "2027-01-01", "--in", "1d"}, "exclude each other"},
		{[]string{"expire", "a", "--at", "2026-01-01T00:00:00Z"}, "not in the future"},
		{[]string{"expire", "a", "--at", "tomorrow"}, "neither an RFC 3339 time"},
		{[]string{"expire", "a", "--in", "0"}, "--in must be positive"},
		{[]string{"expire", "a b"}, "HTTP"}, // refused by the client, not sent
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			h := newHarness(t)
			r := h.run(in(""), tc.args...)
			requireCode(t, exitUndecided, r)
			if tc.want != "HTTP" {
				assert.Contains(t, r.stderr, tc.want)
			} else {
				assert.Contains(t, r.stderr, "invalid argument")
			}
			assert.Empty(t, h.srv.Requests())
		})
	}
}

func TestDelete(t *testing.T) {
	t.Run("--yes deletes", func(t *testing.T) {
		h := newHarness(t)
		k := h.srv.AddKey(aliceValue, "Alice", "org_1")
		r := h.run(in(""), "delete", k.ID, "--yes")
		requireCode(t, exitOK, r)
		assert.Equal(t, k.ID+" deleted\n", r.stdout)
		got, _ := h.srv.Key(k.ID)
		assert.True(t, got.Deleted)
		requireCode(t, exitNo, h.run(in(aliceValue), "validate"))

		r = h.run(in(""), "delete", "--yes", k.ID)
		requireCode(t, exitNo, r)
		assert.Contains(t, r.stderr, "HTTP 404 not_found")
	})

	t.Run("refuses without --yes when stdin is not a terminal", func(t *testing.T) {
		for _, stdin := range []string{"", "y\n", "yes\n"} {
			h := newHarness(t)
			k := h.srv.AddKey(aliceValue, "Alice", "org_1")
			r := h.run(in(stdin), "delete", k.ID)
			requireCode(t, exitUndecided, r)
			assert.Equal(t, "apikeys delete: refusing to delete without --yes: stdin is not a terminal, so no one can confirm (see 'apikeys delete --help')\n", r.stderr)
			assert.Empty(t, h.srv.Requests())
			got, _ := h.srv.Key(k.ID)
			assert.False(t, got.Deleted)
		}
	})

	t.Run("a delete whose answer is lost is retried and succeeds", func(t *testing.T) {
		h := newHarness(t)
		k := h.srv.AddKey(aliceValue, "Alice", "org_1")
		h.srv.Fail(h.srv.LostAnswer())
		r := h.run(in(""), "delete", k.ID, "--yes")
		requireCode(t, exitOK, r)
		assert.Len(t, h.srv.Requests(), 2)
	})
}
