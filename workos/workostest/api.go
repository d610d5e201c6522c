package workostest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// handle is the server's normal behaviour: WorkOS's answers, as documented.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Authorization") != "Bearer "+SecretKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "code": "unauthorized"})
		return
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		s.t.Errorf("workostest: %s %s: Accept is %q, not application/json", r.Method, r.URL.Path, got)
	}
	if r.Header.Get("User-Agent") == "" {
		s.t.Errorf("workostest: %s %s: no User-Agent", r.Method, r.URL.Path)
	}
	if r.Method == http.MethodPost {
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			s.t.Errorf("workostest: %s %s: Content-Type is %q, not application/json", r.Method, r.URL.Path, got)
		}
	} else if len(body) > 0 {
		s.t.Errorf("workostest: %s %s has a body", r.Method, r.URL.Path)
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i := range seg {
		p, err := url.PathUnescape(seg[i])
		if err != nil {
			s.t.Errorf("workostest: %s: bad path escape", r.URL.EscapedPath())
		}
		seg[i] = p
	}
	switch {
	case r.Method == http.MethodPost && len(seg) == 2 && seg[0] == "api_keys" && seg[1] == "validations":
		s.validate(w, body)
	case r.Method == http.MethodDelete && len(seg) == 2 && seg[0] == "api_keys":
		s.delete(w, seg[1])
	case r.Method == http.MethodPost && len(seg) == 3 && seg[0] == "api_keys" && seg[2] == "expire":
		s.expire(w, seg[1], body)
	case r.Method == http.MethodGet && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "api_keys":
		s.list(w, seg[1], r.URL.Query())
	case r.Method == http.MethodPost && len(seg) == 3 && seg[0] == "organizations" && seg[2] == "api_keys":
		s.create(w, seg[1], body, r.Header.Get("Idempotency-Key"))
	default:
		// A path that is no endpoint: a bare "Not Found", where an unknown
		// object's 404 names the object ("ApiKey not found").
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "code": "not_found"})
	}
}

// strict decodes a request body, refusing unknown fields as a sign that
// the client's request shape is wrong.
func (s *Server) strict(w http.ResponseWriter, body []byte, v any) bool {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		s.t.Errorf("workostest: bad request body %q: %v", body, err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "code": "invalid_request_body"})
		return false
	}
	return true
}

// validate answers POST /api_keys/validations: {"api_key": {...}} for a
// known, undeleted key, expired or not, else {"api_key": null}.
func (s *Server) validate(w http.ResponseWriter, body []byte) {
	var req struct {
		Value *string `json:"value"`
	}
	if !s.strict(w, body, &req) {
		return
	}
	if req.Value == nil {
		s.t.Errorf("workostest: a validation without a value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if req.Value != nil && k.Value == *req.Value && !k.Deleted {
			writeJSON(w, http.StatusOK, map[string]any{"api_key": wire(k)})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_key": nil})
}

// delete answers DELETE /api_keys/{id}: 204, or 404 for an unknown or
// already deleted key.
func (s *Server) delete(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.find(id); k != nil && !k.Deleted {
		k.Deleted = true
		w.Header().Set("Content-Type", "text/plain") // as WorkOS's emulator does
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "ApiKey not found", "code": "not_found"})
}

// expire answers POST /api_keys/{id}/expire with {} (now) or
// {"expires_at": ...} (a future time): the key, 409 for one already
// expired, 422 for a time not in the future, 404 for an unknown key.
func (s *Server) expire(w http.ResponseWriter, id string, body []byte) {
	var req map[string]*string
	if len(body) > 0 && !s.strict(w, body, &req) {
		return
	}
	for field := range req {
		if field != "expires_at" {
			s.t.Errorf("workostest: expire body has the field %q", field)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := s.find(id)
	if k == nil || k.Deleted {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("API Key not found: '%s'.", id)})
		return
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		writeJSON(w, http.StatusConflict, map[string]any{"code": "api_key_already_expired", "message": "API key is already expired"})
		return
	}
	at := now
	if v, ok := req["expires_at"]; ok && v != nil {
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil || !t.After(now) {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "expires_at must be in the future"})
			return
		}
		at = t
	}
	k.ExpiresAt = at
	writeJSON(w, http.StatusOK, wire(k))
}

// list answers GET /organizations/{id}/api_keys with the organization's
// undeleted keys, a page of limit (default 10, 1 to 100) after the cursor.
func (s *Server) list(w http.ResponseWriter, org string, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	empty := map[string]any{"before": nil, "after": nil}
	if !s.orgs[org] {
		if s.unknownOrgs == http.StatusNotFound {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("Organization not found: '%s'.", org)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{}, "list_metadata": empty})
		return
	}
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.t.Errorf("workostest: list limit %q is not 1 to 100", v)
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "limit must be between 1 and 100"})
			return
		}
		limit = n
	}
	var all []*Key
	for _, k := range s.keys {
		if k.OrganizationID == org && k.OwnerType == "organization" && !k.Deleted {
			all = append(all, k)
		}
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(all)
		for i, k := range all {
			if k.ID == after {
				start = i + 1
			}
		}
	}
	data := []any{}
	var next any
	for i := start; i < len(all) && len(data) < limit; i++ {
		data = append(data, wire(all[i]))
		if len(data) == limit && i+1 < len(all) {
			next = all[i].ID
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "list_metadata": map[string]any{"before": nil, "after": next}})
}

// create answers POST /organizations/{id}/api_keys: 201 with the key and
// its value; the same answer again for a repeated Idempotency-Key.
func (s *Server) create(w http.ResponseWriter, org string, body []byte, idem string) {
	var req struct {
		Name        *string  `json:"name"`
		Permissions []string `json:"permissions"`
		ExpiresAt   *string  `json:"expires_at"`
	}
	if !s.strict(w, body, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if resp, ok := s.created[idem]; ok && idem != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(resp)
		return
	}
	if req.Name == nil || *req.Name == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation failed.", "errors": []any{map[string]any{"code": "required", "field": "name"}}})
		return
	}
	if !s.orgs[org] {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": fmt.Sprintf("Organization not found: '%s'.", org)})
		return
	}
	s.nextID++
	k := &Key{Value: fmt.Sprintf("sk_created_%04d_secretvalue", s.nextID), ID: fmt.Sprintf("api_key_%04d", s.nextID),
		Name: *req.Name, OwnerType: "organization", OwnerID: org, OrganizationID: org, Permissions: req.Permissions,
		CreatedAt: s.now(), UpdatedAt: s.now()}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			s.t.Errorf("workostest: create: expires_at %q is not a timestamp", *req.ExpiresAt)
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "expires_at is not a timestamp"})
			return
		}
		k.ExpiresAt = t
	}
	s.keys = append(s.keys, k)
	wk := wire(k)
	wk["value"] = k.Value
	resp, _ := json.Marshal(wk)
	if idem != "" {
		s.created[idem] = resp
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(resp)
}

// wire is a key in WorkOS's ApiKey form, with all ten fields present.
func wire(k *Key) map[string]any {
	owner := map[string]any{"type": k.OwnerType, "id": k.OwnerID}
	if k.OwnerType == "user" {
		owner["organization_id"] = k.OrganizationID
	}
	exp, lastUsed := wireTime(k.ExpiresAt), wireTime(k.LastUsedAt)
	perms := k.Permissions
	if perms == nil {
		perms = []string{}
	}
	obf := "sk_..."
	if len(k.Value) >= 4 {
		obf += k.Value[len(k.Value)-4:]
	}
	return map[string]any{
		"object": "api_key", "id": k.ID, "owner": owner, "name": k.Name,
		"obfuscated_value": obf, "last_used_at": lastUsed, "expires_at": exp,
		"permissions": perms, "created_at": wireTime(k.CreatedAt), "updated_at": wireTime(k.UpdatedAt),
	}
}

// wireTime is t as WorkOS sends timestamps, UTC to the millisecond, or
// null for the zero time.
func wireTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// writeJSON answers as WorkOS does, with a request ID naming the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", "req_fake_"+strconv.Itoa(status))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
