package keyctl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addKeys gives org n keys and returns their IDs in the order listed.
func addKeys(h *harness, org string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.srv.AddKey(fmt.Sprintf("sk_live_%s_%04d_value", org, i), fmt.Sprintf("key %d", i), org, "posts:read").ID
	}
	return ids
}

// listRequests returns the list requests the fake received, as their
// "after" cursors ("" for the first page).
func listRequests(srv *workostest.Server) []string {
	var cursors []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			cursors = append(cursors, r.Query.Get("after"))
		}
	}
	return cursors
}

// tableIDs returns the first column of a table, without its header.
func tableIDs(t *testing.T, table string) []string {
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	require.NotEmpty(t, lines)
	require.True(t, strings.HasPrefix(lines[0], "ID  "), lines[0])
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, strings.Fields(l)[0])
	}
	return ids
}

func jsonlIDs(t *testing.T, out string) []string {
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var k struct{ ID string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &k), sc.Text())
		ids = append(ids, k.ID)
	}
	return ids
}

func TestList(t *testing.T) {
	const org = "org_many"

	t.Run("every key across several pages, as a table", func(t *testing.T) {
		h := newHarness(t)
		ids := addKeys(h, org, 250)
		addKeys(h, "org_other", 3)
		h.srv.UpdateKey(ids[0], func(k *workostest.Key) { k.LastUsedAt = testNow.Add(-time.Hour) })
		r := h.run(in(""), "list", "--org", org)
		requireCode(t, exitOK, r)
		assert.Equal(t, ids, tableIDs(t, r.stdout))
		assert.Equal(t, []string{"", ids[99], ids[199]}, listRequests(h.srv), "three pages of 100")
		first := strings.Split(r.stdout, "\n")[1]
		assert.Regexp(t, `^api_key_0001 +key 0 +organization:org_many +sk_\.\.\.alue +posts:read +2026-01-15T12:00:00Z +2026-03-01T11:00:00Z +never$`, first)
		assert.Empty(t, r.stderr, "no progress for a quick listing")
	})

	t.Run("a 429 in the middle is retried: nothing duplicated or lost", func(t *testing.T) {
		for _, format := range []string{"table", "--json", "--jsonl"} {
			t.Run(format, func(t *testing.T) {
				h := newHarness(t)
				ids := addKeys(h, org, 250)
				h.srv.Fail(nil, workostest.Reply(429, `{"message":"Too Many Requests","code":"rate_limit_exceeded"}`, "Retry-After", "1"))
				args := []string{"list", "--org", org}
				if format != "table" {
					args = append(args, format)
				}
				r := h.run(in(""), args...)
				requireCode(t, exitOK, r)
				var got []string
				switch format {
				case "table":
					got = tableIDs(t, r.stdout)
				case "--json":
					var keys []struct{ ID string }
					require.NoError(t, json.Unmarshal([]byte(r.stdout), &keys))
					for _, k := range keys {
						got = append(got, k.ID)
					}
				case "--jsonl":
					got = jsonlIDs(t, r.stdout)
				}
				assert.Equal(t, ids, got)
				assert.Equal(t, []string{"", ids[99], ids[99], ids[199]}, listRequests(h.srv), "page 2 asked twice")
			})
		}
	})

	t.Run("an outage in the middle fails: no table, exit 2, the request id", func(t *testing.T) {
		h := newHarness(t)
		addKeys(h, org, 150)
		down := workostest.Reply(503, `{"message":"down"}`, "X-Request-ID", "req_down_7")
		h.srv.Fail(nil, down, down, down, down)
		r := h.run(in(""), "list", "--org", org)
		requireCode(t, exitUndecided, r)
		assert.Empty(t, r.stdout, "the table is printed whole or not at all")
		require.Len(t, r.stderrLines(), 1)
		assert.Contains(t, r.stderr, "HTTP 503")
		assert.Contains(t, r.stderr, "req_down_7")
		assert.Len(t, listRequests(h.srv), 5, "one page, then four attempts at the second")
	})

	t.Run("--jsonl streams, and says how far it got when it fails", func(t *testing.T) {
		h := newHarness(t)
		ids := addKeys(h, org, 150)
		down := workostest.Reply(500, `{"message":"boom"}`)
		h.srv.Fail(nil, down, down, down, down)
		r := h.run(in(""), "list", "--org", org, "--jsonl")
		requireCode(t, exitUndecided, r)
		assert.Equal(t, ids[:100], jsonlIDs(t, r.stdout))
		assert.Contains(t, r.stderr, "after 100 keys")
	})

	t.Run("progress on stderr when paging takes a while", func(t *testing.T) {
		h := newHarness(t)
		ids := addKeys(h, org, 250)
		var mu sync.Mutex
		now := testNow
		h.clock = func() time.Time { // each look at the clock takes 10ms
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(10 * time.Millisecond)
			return now
		}
		r := h.run(in(""), "list", "--org", org)
		requireCode(t, exitOK, r)
		assert.Equal(t, ids, tableIDs(t, r.stdout))
		lines := r.stderrLines()
		require.GreaterOrEqual(t, len(lines), 2, r.stderr)
		assert.Regexp(t, `^apikeys: \d+ keys so far…$`, lines[0])
		assert.Regexp(t, `^apikeys: listed 250 keys in \d`, lines[len(lines)-1])
	})

	t.Run("an unknown organization is an error", func(t *testing.T) {
		h := newHarness(t)
		r := h.run(in(""), "list", "--org", "org_nobody", "--json")
		requireCode(t, exitUndecided, r)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "apikeys list: no organization org_nobody in WorkOS: ")
		assert.Contains(t, r.stderr, "Organization not found")
	})
	t.Run("an organization answered with an empty list has no keys", func(t *testing.T) {
		// As WorkOS's emulator answers an unknown one.
		h := newHarness(t)
		h.srv.SetUnknownOrganizationStatus(200)
		r := h.run(in(""), "list", "--org", "org_nobody", "--json")
		requireCode(t, exitOK, r)
		assert.Equal(t, "[]\n", r.stdout)
		assert.Equal(t, "apikeys list: no keys in organization org_nobody\n", r.stderr)
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "--org is required"},
		{[]string{"list", "--org", org, "--json", "--jsonl"}, "exclude each other"},
		{[]string{"list", "--org", org, "extra"}, "takes no arguments, got 1"},
		{[]string{"list", "--org", org, "--timeout", "0s"}, "--timeout must be positive"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			h := newHarness(t)
			r := h.run(in(""), tc.args...)
			requireCode(t, exitUndecided, r)
			assert.Contains(t, r.stderr, tc.want)
			assert.Empty(t, h.srv.Requests())
		})
	}

	t.Run("names from WorkOS cannot reach the terminal as control sequences", func(t *testing.T) {
		h := newHarness(t)
		h.srv.AddKey("sk_live_evil_0000", "evil\x1b]0;pwned\x07\tname\nnext", org)
		r := h.run(in(""), "list", "--org", org)
		requireCode(t, exitOK, r)
		assert.NotContains(t, r.stdout, "\x1b")
		assert.NotContains(t, r.stdout, "\x07")
		assert.Len(t, strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"), 2)
	})
}
