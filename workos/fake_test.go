package workos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSecret is the WorkOS secret key the fake accepts.
const testSecret = "sk_test_FAKEsecretKEY_0123456789abcdef"

// Fixtures, verbatim from the research notes (workos-api-keys.md), which
// quote the WorkOS SDKs' own fixtures.
const (
	fixtureValidateOrg = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
    "owner": {
      "type": "organization",
      "id": "org_01H5JQDV7R7ATEYZDEG0W5PRYS"
    },
    "name": "Test Api Key",
    "obfuscated_value": "sk_…PRYS",
    "last_used_at": null,
    "permissions": ["read", "write"],
    "created_at": "2023-07-18T02:07:19.911Z",
    "updated_at": "2023-07-18T02:07:19.911Z"
  }
}`
	fixtureValidateUser = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
    "owner": {
      "type": "user",
      "id": "user_01H5JQDV7R7ATEYZDEG0W5PRYS",
      "organization_id": "org_01H5JQDV7R7ATEYZDEG0W5PRYS"
    },
    "name": "Test User Api Key",
    "obfuscated_value": "sk_…PRYS",
    "last_used_at": null,
    "permissions": ["read", "write"],
    "created_at": "2023-07-18T02:07:19.911Z",
    "updated_at": "2023-07-18T02:07:19.911Z"
  }
}`
	fixtureValidateSpec = `{
  "api_key": {
    "object": "api_key",
    "id": "api_key_01EHZNVPK3SFK441A1RGBFSHRT",
    "owner": {
      "type": "organization",
      "id": "org_01EHZNVPK3SFK441A1RGBFSHRT"
    },
    "name": "Production API Key",
    "obfuscated_value": "sk_...3456",
    "last_used_at": null,
    "expires_at": null,
    "permissions": [
      "posts:read",
      "posts:write"
    ],
    "created_at": "2026-01-15T12:00:00.000Z",
    "updated_at": "2026-01-15T12:00:00.000Z"
  },
  "agent_registration_id": "agent_reg_01EHZNVPK3SFK441A1RGBFSHRT"
}`
	fixtureValidateNull = `{"api_key": null}`
	fixtureList         = `{
  "object": "list",
  "data": [
    {
      "object": "api_key",
      "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYS",
      "owner": {
        "type": "organization",
        "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
      },
      "name": "Production Key",
      "obfuscated_value": "sk_…PRYS",
      "last_used_at": "2023-07-20T10:30:00.000Z",
      "permissions": ["read", "write"],
      "created_at": "2023-07-18T02:07:19.911Z",
      "updated_at": "2023-07-18T02:07:19.911Z"
    },
    {
      "object": "api_key",
      "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYT",
      "owner": {
        "type": "organization",
        "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
      },
      "name": "Development Key",
      "obfuscated_value": "sk_…PRYT",
      "last_used_at": null,
      "permissions": ["read"],
      "created_at": "2023-07-19T02:07:19.911Z",
      "updated_at": "2023-07-19T02:07:19.911Z"
    }
  ],
  "list_metadata": {
    "before": null,
    "after": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYT"
  }
}`
	fixtureCreateNode = `{
  "object": "api_key",
  "id": "api_key_01H5JQDV7R7ATEYZDEG0W5PRYV",
  "owner": {
    "type": "organization",
    "id": "org_01EHT88Z8J8795GZNQ4ZP1J81T"
  },
  "name": "New API Key",
  "obfuscated_value": "sk_…9789",
  "value": "sk_live_abc123xyz789",
  "last_used_at": null,
  "permissions": ["read", "write"],
  "created_at": "2023-07-20T02:07:19.911Z",
  "updated_at": "2023-07-20T02:07:19.911Z"
}`
	fixtureCreateSpec = `{
  "object": "api_key",
  "id": "api_key_01EHZNVPK3SFK441A1RGBFSHRT",
  "owner": {
    "type": "organization",
    "id": "org_01EHZNVPK3SFK441A1RGBFSHRT"
  },
  "name": "Production API Key",
  "obfuscated_value": "sk_...3456",
  "last_used_at": null,
  "expires_at": "2030-01-01T00:00:00.000Z",
  "permissions": [
    "posts:read",
    "posts:write"
  ],
  "created_at": "2026-01-15T12:00:00.000Z",
  "updated_at": "2026-01-15T12:00:00.000Z",
  "value": "sk_abcdefghijklmnop123456"
}`
	fixtureErrExpired = `{"code":"api_key_already_expired","message":"API key is already expired"}`
)

// fakeKey is a key the fake WorkOS knows.
type fakeKey struct {
	value, id, name string
	ownerType       string // "organization" or "user"
	ownerID, org    string // for a user key: the user and its organization
	perms           []string
	expiresAt       time.Time
	deleted         bool
}

// recorded is a request the fake received.
type recorded struct {
	Method, Path string // Path is the escaped path
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// fault answers a request instead of the fake's normal behaviour, or
// delays it; it returns true when it wrote the response.
type fault func(w http.ResponseWriter, r *http.Request) bool

// fakeWorkOS speaks the documented WorkOS API keys wire format, and can be
// told to fail. It checks every request's shape and fails the test on a
// mismatch.
type fakeWorkOS struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	keys        []*fakeKey
	orgs        map[string]bool
	requests    []recorded
	faults      []fault
	created     map[string][]byte // Idempotency-Key → response
	nextID      int
	now         func() time.Time
	unknownOrgs int // status for an unknown organization's list: 404 or 200

	validations atomic.Int64
}

func newFake(t testing.TB) *fakeWorkOS {
	f := &fakeWorkOS{t: t, orgs: map[string]bool{}, created: map[string][]byte{}, now: time.Now, unknownOrgs: 404}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a Client for the fake with fast, recorded sleeps.
func (f *fakeWorkOS) client(t testing.TB, opts ...Option) *Client {
	c, err := New(testSecret, append([]Option{WithBaseURL(f.srv.URL), WithSleep(noSleep)}, opts...)...)
	require.NoError(t, err)
	return c
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// addKey registers an organization key and returns it.
func (f *fakeWorkOS) addKey(value, name, org string, perms ...string) *fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	k := &fakeKey{value: value, id: fmt.Sprintf("api_key_%04d", f.nextID), name: name,
		ownerType: "organization", ownerID: org, org: org, perms: perms}
	f.keys = append(f.keys, k)
	f.orgs[org] = true
	return k
}

// addUserKey registers a user-owned key.
func (f *fakeWorkOS) addUserKey(value, name, user, org string, perms ...string) *fakeKey {
	k := f.addKey(value, name, org, perms...)
	f.mu.Lock()
	k.ownerType, k.ownerID = "user", user
	f.mu.Unlock()
	return k
}

// revoke makes WorkOS forget a key, as a delete in the dashboard would.
func (f *fakeWorkOS) revoke(k *fakeKey) {
	f.mu.Lock()
	k.deleted = true
	f.mu.Unlock()
}

// fail queues faults: each one answers (or delays) the next request.
func (f *fakeWorkOS) fail(fs ...fault) {
	f.mu.Lock()
	f.faults = append(f.faults, fs...)
	f.mu.Unlock()
}

func (f *fakeWorkOS) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeWorkOS) key(id string) *fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

// reply answers with a fixed status, headers and body.
func reply(status int, body string, headers ...string) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// slow delays the request by d (or until the client gives up), then lets
// the fake answer it normally.
func slow(d time.Duration) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		return false
	}
}

// oversized answers 200 with a body of n bytes of valid-looking JSON.
func oversized(n int) fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"api_key":null,"pad":"`+strings.Repeat("x", n)+`"}`)
		return true
	}
}

// hangUp closes the connection without answering: a network error.
func hangUp() fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return true
	}
}

// closedURL is the URL of a listener that is closed: connection refused.
func closedURL(t testing.TB) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

func (f *fakeWorkOS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), body})
	var flt fault
	if len(f.faults) > 0 {
		flt, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if r.URL.Path == "/api_keys/validations" {
		f.validations.Add(1)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if flt != nil && flt(w, r) {
		return
	}
	f.handle(w, r, body)
}

// lostAnswer handles the request normally but hangs up instead of
// answering: the change is made, the client never learns it.
func (f *fakeWorkOS) lostAnswer() fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		body, _ := io.ReadAll(r.Body)
		f.handle(httptest.NewRecorder(), r, body)
		return hangUp()(w, r)
	}
}

// handle is the fake's normal behaviour.
func (f *fakeWorkOS) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Authorization") != "Bearer "+testSecret {
		writeJSON(w, 401, map[string]any{"message": "Unauthorized", "code": "unauthorized"})
		return
	}
	assert.Equal(f.t, "application/json", r.Header.Get("Accept"), "Accept")
	assert.NotEmpty(f.t, r.Header.Get("User-Agent"), "User-Agent")
	if r.Method == http.MethodPost {
		assert.Equal(f.t, "application/json", r.Header.Get("Content-Type"), "Content-Type of %s %s", r.Method, r.URL.Path)
	} else {
		assert.Empty(f.t, body, "body of %s %s", r.Method, r.URL.Path)
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i := range seg {
		s, err := url.PathUnescape(seg[i])
		require.NoError(f.t, err)
		seg[i] = s
	}
	switch {
	case r.Method == "POST" && len(seg) == 2 && seg[0] == "api_keys" && seg[1] == "validations":
		f.validate(w, body)
	case r.Method == "DELETE" && len(seg) == 2 && seg[0] == "api_keys":
		f.delete(w, seg[1])
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "api_keys" && seg[2] == "expire":
		f.expire(w, seg[1], body)
	case r.Method == "GET" && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "api_keys":
		f.list(w, seg[1], r.URL.Query())
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "api_keys":
		f.create(w, seg[1], body, r.Header.Get("Idempotency-Key"))
	default:
		writeJSON(w, 404, map[string]any{"message": "Not Found", "code": "not_found"})
	}
}

// strict decodes a request body, refusing unknown fields.
func (f *fakeWorkOS) strict(w http.ResponseWriter, body []byte, v any) bool {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		f.t.Errorf("fake WorkOS: bad request body %q: %v", body, err)
		writeJSON(w, 400, map[string]any{"message": "Problems parsing JSON", "code": "invalid_request_body"})
		return false
	}
	return true
}

func (f *fakeWorkOS) validate(w http.ResponseWriter, body []byte) {
	var req struct {
		Value *string `json:"value"`
	}
	if !f.strict(w, body, &req) {
		return
	}
	assert.NotNil(f.t, req.Value, "validation without a value")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if req.Value != nil && k.value == *req.Value && !k.deleted {
			writeJSON(w, 200, map[string]any{"api_key": f.wire(k)})
			return
		}
	}
	writeJSON(w, 200, map[string]any{"api_key": nil})
}

func (f *fakeWorkOS) delete(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.id == id && !k.deleted {
			k.deleted = true
			w.Header().Set("Content-Type", "text/plain") // as the emulator does
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeJSON(w, 404, map[string]any{"message": "ApiKey not found", "code": "not_found"})
}

func (f *fakeWorkOS) expire(w http.ResponseWriter, id string, body []byte) {
	var req map[string]*string
	if len(body) > 0 && !f.strict(w, body, &req) {
		return
	}
	for field := range req {
		assert.Equal(f.t, "expires_at", field, "expire body")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, k := range f.keys {
		if k.id != id || k.deleted {
			continue
		}
		if !k.expiresAt.IsZero() && !now.Before(k.expiresAt) {
			reply(409, fixtureErrExpired)(w, nil)
			return
		}
		at := now
		if v, ok := req["expires_at"]; ok && v != nil {
			t, err := time.Parse(time.RFC3339Nano, *v)
			if err != nil || !t.After(now) {
				writeJSON(w, 422, map[string]any{"message": "expires_at must be in the future"})
				return
			}
			at = t
		}
		k.expiresAt = at
		writeJSON(w, 200, f.wire(k))
		return
	}
	writeJSON(w, 404, map[string]any{"message": fmt.Sprintf("API Key not found: '%s'.", id)})
}

func (f *fakeWorkOS) list(w http.ResponseWriter, org string, q url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.orgs[org] {
		if f.unknownOrgs == 404 {
			writeJSON(w, 404, map[string]any{"message": fmt.Sprintf("Organization not found: '%s'.", org)})
			return
		}
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{}, "list_metadata": map[string]any{"before": nil, "after": nil}})
		return
	}
	limit := 10
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(f.t, err)
		assert.True(f.t, n >= 1 && n <= 100, "limit %d", n)
		limit = n
	}
	var all []*fakeKey
	for _, k := range f.keys {
		if k.org == org && k.ownerType == "organization" && !k.deleted {
			all = append(all, k)
		}
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(all)
		for i, k := range all {
			if k.id == after {
				start = i + 1
			}
		}
	}
	data := []any{}
	var next any
	for i := start; i < len(all) && len(data) < limit; i++ {
		data = append(data, f.wire(all[i]))
		if len(data) == limit && i+1 < len(all) {
			next = all[i].id
		}
	}
	writeJSON(w, 200, map[string]any{"object": "list", "data": data, "list_metadata": map[string]any{"before": nil, "after": next}})
}

func (f *fakeWorkOS) create(w http.ResponseWriter, org string, body []byte, idem string) {
	var req struct {
		Name        *string  `json:"name"`
		Permissions []string `json:"permissions"`
		ExpiresAt   *string  `json:"expires_at"`
	}
	if !f.strict(w, body, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if resp, ok := f.created[idem]; ok && idem != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write(resp)
		return
	}
	if req.Name == nil || *req.Name == "" {
		writeJSON(w, 422, map[string]any{"message": "Validation failed.", "errors": []any{map[string]any{"code": "required", "field": "name"}}})
		return
	}
	if !f.orgs[org] {
		writeJSON(w, 404, map[string]any{"message": fmt.Sprintf("Organization not found: '%s'.", org)})
		return
	}
	f.nextID++
	k := &fakeKey{value: fmt.Sprintf("sk_created_%04d_secretvalue", f.nextID), id: fmt.Sprintf("api_key_%04d", f.nextID),
		name: *req.Name, ownerType: "organization", ownerID: org, org: org, perms: req.Permissions}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		require.NoError(f.t, err)
		k.expiresAt = t
	}
	f.keys = append(f.keys, k)
	wk := f.wire(k)
	wk["value"] = k.value
	resp, _ := json.Marshal(wk)
	if idem != "" {
		f.created[idem] = resp
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	_, _ = w.Write(resp)
}

// wire is a key in the documented wire form, all ten fields present.
func (f *fakeWorkOS) wire(k *fakeKey) map[string]any {
	owner := map[string]any{"type": k.ownerType, "id": k.ownerID}
	if k.ownerType == "user" {
		owner["organization_id"] = k.org
	}
	var exp any
	if !k.expiresAt.IsZero() {
		exp = k.expiresAt.UTC().Format(time.RFC3339Nano)
	}
	perms := k.perms
	if perms == nil {
		perms = []string{}
	}
	obf := "sk_..."
	if len(k.value) >= 4 {
		obf += k.value[len(k.value)-4:]
	}
	return map[string]any{
		"object": "api_key", "id": k.id, "owner": owner, "name": k.name,
		"obfuscated_value": obf, "last_used_at": nil, "expires_at": exp,
		"permissions": perms, "created_at": "2026-01-15T12:00:00.000Z", "updated_at": "2026-01-15T12:00:00.000Z",
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "req_fake_"+strconv.Itoa(status))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// recordingSleep records the waits it is asked for, without waiting.
type recordingSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *recordingSleep) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// recordingInvalidator records the IDs it is told to invalidate.
type recordingInvalidator struct {
	mu  sync.Mutex
	ids []string
}

func (r *recordingInvalidator) InvalidateID(id string) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
}

func (r *recordingInvalidator) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}
