package workostest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// SecretKey is the WorkOS secret key a Server accepts: any other
// Authorization gets WorkOS's 401.
const SecretKey = "sk_test_FAKEsecretKEY_0123456789abcdef"

// Key is a key a Server knows, as the server holds it.
type Key struct {
	ID    string
	Value string
	Name  string
	// OwnerType is "organization" or "user". OwnerID is the organization or
	// the user; OrganizationID is the organization in both cases.
	OwnerType, OwnerID, OrganizationID string
	Permissions                        []string
	// ExpiresAt is when the key expires; zero means never. Validation still
	// returns an expired key, with its expires_at, as WorkOS documents.
	ExpiresAt time.Time
	// Deleted keys validate as null and are left out of lists.
	Deleted bool
	// CreatedAt and UpdatedAt are sent as created_at and updated_at; AddKey
	// sets both to 2026-01-15T12:00:00Z. LastUsedAt is sent as last_used_at,
	// null when zero.
	CreatedAt, UpdatedAt, LastUsedAt time.Time
}

// addedAt is when AddKey says a key was created and last updated.
var addedAt = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Request is a request a Server received.
type Request struct {
	Method string
	Path   string // escaped
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Server is a fake WorkOS API keys API. Build one with NewServer; it is
// safe for concurrent use, and it closes when the test ends.
//
// Every request is recorded. A request whose shape is wrong (no Accept or
// User-Agent, a body on a GET, unknown fields in a JSON body) fails the
// test, and is answered as WorkOS would.
type Server struct {
	// URL is the base URL to give the client, e.g. workos.WithBaseURL(s.URL).
	URL string

	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	keys        []*Key
	orgs        map[string]bool
	requests    []Request
	faults      []Fault
	always      Fault
	created     map[string][]byte // Idempotency-Key → response
	nextID      int
	now         func() time.Time
	unknownOrgs int
	validations int
}

// NewServer starts a Server that knows no keys; t.Cleanup closes it.
func NewServer(t testing.TB) *Server {
	s := &Server{t: t, orgs: map[string]bool{}, created: map[string][]byte{}, now: time.Now, unknownOrgs: http.StatusNotFound}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddKey registers a key owned by the organization org, with the ID
// "api_key_0001", "api_key_0002"... in order, and returns it.
func (s *Server) AddKey(value, name, org string, perms ...string) Key {
	return s.add(&Key{Value: value, Name: name, OwnerType: "organization", OwnerID: org, OrganizationID: org, Permissions: perms})
}

// AddUserKey registers a key owned by user, a member of org.
func (s *Server) AddUserKey(value, name, user, org string, perms ...string) Key {
	return s.add(&Key{Value: value, Name: name, OwnerType: "user", OwnerID: user, OrganizationID: org, Permissions: perms})
}

func (s *Server) add(k *Key) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.CreatedAt, k.UpdatedAt = addedAt, addedAt
	s.nextID++
	k.ID = fmt.Sprintf("api_key_%04d", s.nextID)
	s.keys = append(s.keys, k)
	s.orgs[k.OrganizationID] = true
	return k.copy()
}

// Key returns the key with this ID as the server now holds it.
func (s *Server) Key(id string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.find(id); k != nil {
		return k.copy(), true
	}
	return Key{}, false
}

// Revoke deletes the key, as a delete in the WorkOS dashboard would: from
// then on it validates as null. It reports whether the key was known.
func (s *Server) Revoke(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k != nil {
		k.Deleted = true
	}
	return k != nil
}

// UpdateKey calls change with the key, under the server's lock, so that a
// test can set any of its fields (LastUsedAt, Permissions...) between
// requests. It reports whether the key was known. The ID must not change.
func (s *Server) UpdateKey(id string, change func(k *Key)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k != nil {
		change(k)
		k.ID = id
	}
	return k != nil
}

// SetExpiresAt sets the key's expiry (zero: never). It reports whether the
// key was known.
func (s *Server) SetExpiresAt(id string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k != nil {
		k.ExpiresAt = at
	}
	return k != nil
}

// SetClock sets the clock that expire calls are judged by. Default: time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// SetUnknownOrganizationStatus sets how a list of an organization that has
// no keys is answered: 404 as WorkOS does (the default), or 200 with an
// empty list as its emulator does.
func (s *Server) SetUnknownOrganizationStatus(status int) {
	s.mu.Lock()
	s.unknownOrgs = status
	s.mu.Unlock()
}

// Fail queues faults: each answers (or delays) one request, the next one
// first; a nil fault lets its request through. Queued faults come before
// the one FailAll set.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, faults...)
	s.mu.Unlock()
}

// FailAll applies f to every request that no queued fault takes, until
// FailAll(nil).
func (s *Server) FailAll(f Fault) {
	s.mu.Lock()
	s.always = f
	s.mu.Unlock()
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Validations returns how many requests POST /api_keys/validations
// received, whatever they were answered.
func (s *Server) Validations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validations
}

func (s *Server) find(id string) *Key {
	for _, k := range s.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (k *Key) copy() Key {
	c := *k
	c.Permissions = slices.Clone(k.Permissions)
	return c
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{r.Method, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), body})
	if r.Method == http.MethodPost && r.URL.Path == "/api_keys/validations" {
		s.validations++
	}
	flt := s.always
	if len(s.faults) > 0 {
		flt, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if flt != nil && flt(w, r) {
		return
	}
	s.handle(w, r, body)
}
