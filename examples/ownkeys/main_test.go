package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore/sqlstoretest"
)

// TestMain runs the example's main when TestSIGTERM starts this binary as
// the example, and otherwise the tests, failing if any leaves a goroutine.
func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Args = append([]string{"ownkeys"}, strings.Fields(os.Getenv(envRunMain+"_ARGS"))...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// The databases the example runs on: a SQLite file, and a schema of the
// test's own in PostgreSQL.
var databases = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{"sqlite", sqlstoretest.SQLite},
	{"postgres", sqlstoretest.Postgres},
}

var keyPattern = regexp.MustCompile(`demo_[0-9A-Za-z]{42}`)

type client struct {
	t *testing.T
	h http.Handler
	// seen collects every response, to check that no key value but a new
	// key's own, in its creation's answer, is ever shown.
	seen bytes.Buffer
}

func (c *client) do(method, path, key, body string) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	if !(method == "POST" && path == "/admin/keys") {
		c.seen.Write(w.Body.Bytes())
	}
	return w
}

// create issues a key through the admin route and returns its ID and value.
func (c *client) create(admin, name string, perms ...string) (id, value string) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "permissions": perms})
	w := c.do("POST", "/admin/keys", admin, string(body))
	require.Equal(c.t, http.StatusCreated, w.Code, w.Body.String())
	var out created
	require.NoError(c.t, json.Unmarshal(w.Body.Bytes(), &out))
	require.True(c.t, format.Check(out.Value), "the value is a well-formed key")
	assert.Equal(c.t, format.DisplayValue(out.Value), out.DisplayValue)
	return out.ID, out.Value
}

func TestExample(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := db.dsn(t)
			var stderr bytes.Buffer
			a, err := newApp(ctx, config{dsn: dsn}, &stderr)
			require.NoError(t, err)
			defer a.Close()
			admin := keyPattern.FindString(stderr.String())
			require.NotEmpty(t, admin, "the first start prints an admin key: %q", stderr.String())

			c := &client{t: t, h: a.handler}
			_, reader := c.create(admin, "reader", "posts:read")
			_, writer := c.create(admin, "writer", "posts:read", "posts:write")
			_, keysOnly := c.create(admin, "keys-only", "keys:admin")
			typo := []byte(reader) // the last character mistyped
			typo[len(typo)-1] = '0'
			if reader[len(reader)-1] == '0' {
				typo[len(typo)-1] = '1'
			}

			tests := []struct {
				name, method, path, key, body string
				status                        int
			}{
				{"health needs no key", "GET", "/healthz", "", "", 200},
				{"me needs a key", "GET", "/me", "", "", 401},
				{"me with a made-up key", "GET", "/me", "demo_" + strings.Repeat("x", 42), "", 401},
				{"me with a mistyped key", "GET", "/me", string(typo), "", 401},
				{"me with the reader", "GET", "/me", reader, "", 200},
				{"reader lists posts", "GET", "/posts", reader, "", 200},
				{"reader cannot post", "POST", "/posts", reader, `{"title":"hi"}`, 403},
				{"writer posts", "POST", "/posts", writer, `{"title":"hi"}`, 201},
				{"writer posts nonsense", "POST", "/posts", writer, `{"nope":1}`, 400},
				{"reader is no admin", "GET", "/admin/keys", reader, "", 403},
				{"reader cannot create keys", "POST", "/admin/keys", reader, `{"name":"x"}`, 403},
				{"admin lists keys", "GET", "/admin/keys", admin, "", 200},
				{"create without a name", "POST", "/admin/keys", admin, `{"permissions":["posts:read"]}`, 400},
				{"create with too many permissions", "POST", "/admin/keys", admin, `{"name":"x","permissions":[` + strings.Repeat(`"posts:read",`, 100) + `"posts:read"]}`, 400},
				{"create with a permission its maker lacks, malformed", "POST", "/admin/keys", admin, `{"name":"x","permissions":["a b"]}`, 403},
				{"create from nonsense", "POST", "/admin/keys", admin, `{"name":1}`, 400},
				{"no key more powerful than its maker: everything", "POST", "/admin/keys", admin, `{"name":"x","permissions":["*"]}`, 403},
				{"no key more powerful than its maker: posts:*", "POST", "/admin/keys", admin, `{"name":"x","permissions":["posts:*"]}`, 403},
				{"a keys:admin-only key cannot give posts:write", "POST", "/admin/keys", keysOnly, `{"name":"x","permissions":["posts:write"]}`, 403},
				{"a keys:admin-only key cannot give everything", "POST", "/admin/keys", keysOnly, `{"name":"x","permissions":["keys:admin","*"]}`, 403},
				{"a keys:admin-only key gives what it has", "POST", "/admin/keys", keysOnly, `{"name":"y","permissions":["keys:admin"]}`, 201},
				{"revoke an unknown key", "DELETE", "/admin/keys/key_unknown", admin, "", 404},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					w := c.do(tc.method, tc.path, tc.key, tc.body)
					assert.Equal(t, tc.status, w.Code, w.Body.String())
				})
			}

			t.Run("the list shows every key, no value", func(t *testing.T) {
				w := c.do("GET", "/admin/keys", admin, "")
				var out struct {
					Data []created `json:"data"`
				}
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
				var names []string
				for _, k := range out.Data {
					names = append(names, k.Name)
					assert.Empty(t, k.Value)
				}
				assert.Equal(t, []string{"admin", "reader", "writer", "keys-only", "y"}, names)
			})

			t.Run("a revoked key is refused at once", func(t *testing.T) {
				id, value := c.create(admin, "short-lived", "posts:read")
				require.Equal(t, 200, c.do("GET", "/posts", value, "").Code)
				require.Equal(t, 204, c.do("DELETE", "/admin/keys/"+id, admin, "").Code)
				assert.Equal(t, 401, c.do("GET", "/posts", value, "").Code, "though it was cached")
				assert.Equal(t, 404, c.do("DELETE", "/admin/keys/"+id, admin, "").Code)
			})

			for _, v := range []string{admin, reader, writer, keysOnly} {
				assert.NotContains(t, c.seen.String(), v[5:], "a key value in a response")
			}
			require.NoError(t, a.Close())

			t.Run("a second start creates no admin key", func(t *testing.T) {
				var again bytes.Buffer
				a, err := newApp(ctx, config{dsn: dsn}, &again)
				require.NoError(t, err)
				defer a.Close()
				assert.Empty(t, again.String())
				c := &client{t: t, h: a.handler}
				assert.Equal(t, 200, c.do("GET", "/me", reader, "").Code, "keys outlive the process")
			})
		})
	}
}

// The admin routes set rate limits and quotas on creation and update, show
// what is left, and the API routes enforce both.
func TestLimitsAndQuota(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			var stderr bytes.Buffer
			a, err := newApp(ctx, config{dsn: db.dsn(t)}, &stderr)
			require.NoError(t, err)
			defer a.Close()
			admin := keyPattern.FindString(stderr.String())
			require.NotEmpty(t, admin)
			c := &client{t: t, h: a.handler}
			post := func(body string) (int, created) {
				t.Helper()
				w := c.do("POST", "/admin/keys", admin, body)
				var out created
				if w.Code == http.StatusCreated {
					require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
				}
				return w.Code, out
			}
			get := func(id string) apikey.Key {
				t.Helper()
				w := c.do("GET", "/admin/keys/"+id, admin, "")
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				var k apikey.Key
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &k))
				return k
			}

			code, limited := post(`{"name":"limited","permissions":["posts:read"],"rate_limit":{"limit":2,"period":"1m"}}`)
			require.Equal(t, http.StatusCreated, code)
			assert.Equal(t, []apikey.Limit{{Rate: 2, Period: time.Minute}}, limited.Limits)
			assert.Nil(t, limited.Quota)
			for i := range 2 {
				w := c.do("GET", "/posts", limited.Value, "")
				require.Equal(t, 200, w.Code, "request %d", i)
				assert.Equal(t, fmt.Sprintf(`"default";r=%d`, 1-i), w.Header().Get("RateLimit")[:len(`"default";r=0`)])
			}
			w := c.do("GET", "/posts", limited.Value, "")
			assert.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.NotEmpty(t, w.Header().Get("Retry-After"))

			code, credited := post(`{"name":"credited","permissions":["posts:read"],
				"limits":[{"name":"burst","limit":100,"period":"1s"}],
				"quota":{"remaining":3,"refill":{"amount":3,"interval":"24h"}}}`)
			require.Equal(t, http.StatusCreated, code)
			assert.Equal(t, &apikey.Quota{Remaining: 3, Refill: &apikey.Refill{Amount: 3, Interval: 24 * time.Hour}}, credited.Quota)
			require.Equal(t, http.StatusForbidden, c.do("POST", "/posts", credited.Value, `{"title":"x"}`).Code, "posts:read only")
			assert.Equal(t, int64(3), get(credited.ID).Quota.Remaining, "a request refused 403 spends no credit")
			for range 3 {
				require.Equal(t, 200, c.do("GET", "/posts", credited.Value, "").Code)
			}
			w = c.do("GET", "/posts", credited.Value, "")
			assert.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Contains(t, w.Body.String(), "quota")
			assert.Equal(t, int64(0), get(credited.ID).Quota.Remaining, "GET shows what is left")

			w = c.do("PATCH", "/admin/keys/"+credited.ID, admin, `{"quota":{"remaining":5}}`)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, &apikey.Quota{Remaining: 5}, get(credited.ID).Quota)
			assert.Equal(t, 200, c.do("GET", "/posts", credited.Value, "").Code, "the new quota applies at once, though the key was cached")
			assert.Equal(t, int64(4), get(credited.ID).Quota.Remaining)

			w = c.do("PATCH", "/admin/keys/"+credited.ID, admin, `{"quota":null,"limits":[]}`)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			k := get(credited.ID)
			assert.Nil(t, k.Quota)
			assert.Nil(t, k.Limits)
			w = c.do("GET", "/posts", credited.Value, "")
			assert.Equal(t, 200, w.Code)
			assert.Empty(t, w.Header().Get("RateLimit"), "no limit, no fields")

			adminID := keyIDOf(t, c, admin)
			for _, tc := range []struct {
				name, method, path, body string
				status                   int
			}{
				{"create with a rate of 0", "POST", "/admin/keys", `{"name":"x","rate_limit":{"limit":0,"period":"1s"}}`, 400},
				{"create with a negative quota", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":-1}}`, 400},
				{"create with a refill that is no duration", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1,"refill":{"amount":1,"interval":"daily"}}}`, 400},
				{"create with a misspelt quota field", "POST", "/admin/keys", `{"name":"x","quota":{"remainig":100}}`, 400},
				{"create with a misspelt refill", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1,"refil":{"amount":1,"interval":"24h"}}}`, 400},
				{"create with a misspelt refill field", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1,"refill":{"amount":1,"interval":"24h","every":"1h"}}}`, 400},
				{"create with a misspelt burst", "POST", "/admin/keys", `{"name":"x","rate_limit":{"limit":1,"period":"1s","brust":9}}`, 400},
				{"create with a quota that is no number", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":"NaN"}}`, 400},
				{"create with a quota past int64", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1e30}}`, 400},
				{"create with a fractional quota", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1.5}}`, 400},
				{"create with a refill interval too long", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1,"refill":{"amount":1,"interval":"100000h"}}}`, 400},
				{"create with a negative refill interval", "POST", "/admin/keys", `{"name":"x","quota":{"remaining":1,"refill":{"amount":1,"interval":"-24h"}}}`, 400},
				{"create with both forms of limits", "POST", "/admin/keys", `{"name":"x","rate_limit":{"limit":1,"period":"1s"},"limits":[]}`, 400},
				{"update with nothing", "PATCH", "/admin/keys/" + credited.ID, `{}`, 400},
				{"update with an unknown field", "PATCH", "/admin/keys/" + credited.ID, `{"quota":{"remaining":1},"plan":"pro"}`, 400},
				{"update the limits with a bad quota", "PATCH", "/admin/keys/" + credited.ID, `{"rate_limit":{"limit":1,"period":"1s"},"quota":{"remaining":-1}}`, 400},
				{"update a limit with a bad scope", "PATCH", "/admin/keys/" + credited.ID, `{"rate_limit":{"limit":1,"period":"1s","scope":"planet"}}`, 400},
				{"update an unknown key", "PATCH", "/admin/keys/key_unknown", `{"quota":null}`, 404},
				{"update its own key", "PATCH", "/admin/keys/" + adminID, `{"quota":null}`, 403},
				{"get an unknown key", "GET", "/admin/keys/key_unknown", "", 404},
			} {
				t.Run(tc.name, func(t *testing.T) {
					w := c.do(tc.method, tc.path, admin, tc.body)
					assert.Equal(t, tc.status, w.Code, w.Body.String())
				})
			}
			assert.Equal(t, 403, c.do("GET", "/admin/keys/"+credited.ID, credited.Value, "").Code, "a key without keys:admin")
			assert.Nil(t, get(credited.ID).Quota, "the refused updates changed nothing")
			assert.Nil(t, get(credited.ID).Limits, "not even the limits of an update whose quota was refused")
		})
	}
}

// The admin routes take a monthly refill, show it as they took it, and
// the API routes give its month's period as RateLimit-Policy's w; a day
// out of range, missing or beside a duration is a 400 that says why.
func TestMonthlyQuota(t *testing.T) {
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			var stderr bytes.Buffer
			a, err := newApp(ctx, config{dsn: db.dsn(t)}, &stderr)
			require.NoError(t, err)
			defer a.Close()
			admin := keyPattern.FindString(stderr.String())
			require.NotEmpty(t, admin)
			c := &client{t: t, h: a.handler}

			w := c.do("POST", "/admin/keys", admin, `{"name":"monthly","permissions":["posts:read"],
				"quota":{"remaining":2,"refill":{"amount":1000,"interval":"monthly","day":31}}}`)
			require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
			var k created
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &k))
			assert.Equal(t, &apikey.Quota{Remaining: 2, Refill: &apikey.Refill{Amount: 1000, Day: 31}}, k.Quota)
			w = c.do("GET", "/admin/keys/"+k.ID, admin, "")
			require.Equal(t, http.StatusOK, w.Code)
			assert.Contains(t, w.Body.String(), `"refill":{"amount":1000,"interval":"monthly","day":31}`)

			w = c.do("GET", "/posts", k.Value, "")
			require.Equal(t, 200, w.Code)
			assert.Regexp(t, `^"quota";q=1000;w=(2419200|2505600|2592000|2678400)$`, w.Header().Get("RateLimit-Policy"), "w is a month of 28 to 31 days")
			require.Equal(t, 200, c.do("GET", "/posts", k.Value, "").Code)
			// Retry-After is rounded up from the time the request was
			// answered, which precedes any read of the clock here: the
			// bound counts from before the request, and its next refill
			// from after it, so that no time passing between the two
			// (nor a refill passing) makes it fail.
			sent := time.Now()
			w = c.do("GET", "/posts", k.Value, "")
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
			require.NoError(t, err)
			_, next := apikey.MonthlyPeriod(time.Now(), 31)
			assert.LessOrEqual(t, time.Duration(retry)*time.Second, next.Sub(sent)+time.Second, "Retry-After is the next refill, rounded up to a second")
			assert.Positive(t, retry)

			w = c.do("PATCH", "/admin/keys/"+k.ID, admin, `{"quota":{"remaining":5,"refill":{"amount":5,"interval":"monthly","day":1}}}`)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), `"refill":{"amount":5,"interval":"monthly","day":1}`)

			for _, tc := range []struct{ name, refill, says string }{
				{"day 32", `{"amount":1,"interval":"monthly","day":32}`, "from 1 to 31"},
				{"no day", `{"amount":1,"interval":"monthly"}`, "from 1 to 31"},
				{"a day beside a duration", `{"amount":1,"interval":"24h","day":1}`, `goes with \"interval\": \"monthly\"`},
				{"no amount", `{"interval":"monthly","day":1}`, "amount must be positive"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					w := c.do("PATCH", "/admin/keys/"+k.ID, admin, `{"quota":{"remaining":1,"refill":`+tc.refill+`}}`)
					assert.Equal(t, 400, w.Code)
					assert.Contains(t, w.Body.String(), tc.says)
					assert.NotContains(t, w.Body.String(), "apikey:")
				})
			}
		})
	}
}

// keyIDOf returns the ID of the key whose value is value, from GET /me.
func keyIDOf(t *testing.T, c *client, value string) string {
	t.Helper()
	w := c.do("GET", "/me", value, "")
	require.Equal(t, 200, w.Code)
	var me struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &me))
	require.NotEmpty(t, me.ID, w.Body.String())
	return me.ID
}
