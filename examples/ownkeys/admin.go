package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore"
)

// created is the answer to a key's creation: the key and, this once, its
// value.
type created struct {
	*apikey.Key
	Value string `json:"value"`
}

const maxAdminBody = 16 << 10

// createKey issues a key from {"name": …, "permissions": […]}, with rate
// limits and a quota if given (see limitsInput), for the caller's owner,
// and answers 201 with it and, this once, its value. It refuses (403) a
// permission that the caller's own key does not grant, so that no key can
// mint one more powerful than itself.
func (a *app) createKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
		limitsInput
	}
	if !decode(w, r, &in, `{"name": "…", "permissions": ["…"]}, with `+limitsShape+` if any`) {
		return
	}
	limits, _, err := in.limits()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q, _, err := in.quota()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	caller, _ := apikey.FromContext(r.Context())
	for _, p := range in.Permissions {
		if !caller.HasPermission(p) {
			writeError(w, http.StatusForbidden, "your key does not grant "+strconv.Quote(p)+": it cannot give it")
			return
		}
	}
	k, value, err := a.store.Create(r.Context(), sqlstore.NewKey{Name: in.Name, Owner: caller.Owner, Permissions: in.Permissions,
		Limits: limits, Quota: q})
	switch {
	case errors.Is(err, sqlstore.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
		return
	}
	writeJSON(w, http.StatusCreated, created{k, value})
}

// getKey answers with a key of the caller's owner, never its value: its
// limits, and its quota with the credits left now.
func (a *app) getKey(w http.ResponseWriter, r *http.Request) {
	k, ok := a.ownKey(w, r)
	if ok {
		writeJSON(w, http.StatusOK, k)
	}
}

// updateKey sets the rate limits or the quota of a key of the caller's
// owner, from a body of limitsInput, and answers with the key. A quota set
// starts afresh: its remaining count and its refill interval from now (a
// monthly refill comes on its next day of the month). No
// key changes its own limits or quota.
func (a *app) updateKey(w http.ResponseWriter, r *http.Request) {
	var in limitsInput
	if !decode(w, r, &in, "{"+limitsShape+"}") {
		return
	}
	limits, setLimits, err := in.limits()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q, setQuota, err := in.quota()
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case !setLimits && !setQuota:
		writeError(w, http.StatusBadRequest, "the body sets nothing: give "+limitsShape)
		return
	}
	k, ok := a.ownKey(w, r)
	if !ok {
		return
	}
	if caller, _ := apikey.FromContext(r.Context()); caller.ID == k.ID {
		writeError(w, http.StatusForbidden, "a key cannot change its own limits or quota")
		return
	}
	if setLimits {
		err = a.store.SetLimits(r.Context(), k.ID, limits)
	}
	if err == nil && setQuota {
		err = a.store.SetQuota(r.Context(), k.ID, q)
	}
	if err == nil {
		k, err = a.store.Get(r.Context(), k.ID)
	}
	switch {
	case errors.Is(err, sqlstore.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, sqlstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such key")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
	default:
		writeJSON(w, http.StatusOK, k)
	}
}

// ownKey returns the key that the path's {id} names, if the caller's owner
// owns it, and otherwise answers 404 (or 503) itself.
func (a *app) ownKey(w http.ResponseWriter, r *http.Request) (*apikey.Key, bool) {
	caller, _ := apikey.FromContext(r.Context())
	k, err := a.store.Get(r.Context(), r.PathValue("id"))
	if err == nil && k.Owner.ID != caller.Owner.ID {
		err = sqlstore.ErrNotFound // another owner's key is none of the caller's business
	}
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such key")
		return nil, false
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
		return nil, false
	}
	return k, true
}

// decode reads the JSON body into v, refusing unknown fields, and answers
// 400 with the expected shape itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be "+shape)
		return false
	}
	return true
}

// listKeys answers with a page of the caller's owner's keys, never their
// values; ?after= takes the previous page's "after".
func (a *app) listKeys(w http.ResponseWriter, r *http.Request) {
	caller, _ := apikey.FromContext(r.Context())
	page, err := a.store.List(r.Context(), caller.Owner.ID, r.URL.Query().Get("after"), 0)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
		return
	}
	out := struct {
		Data  []*apikey.Key `json:"data"`
		After string        `json:"after,omitempty"`
	}{Data: page.Keys, After: page.After}
	if out.Data == nil {
		out.Data = []*apikey.Key{}
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeKey revokes a key of the caller's owner: 204, or 404.
func (a *app) revokeKey(w http.ResponseWriter, r *http.Request) {
	k, ok := a.ownKey(w, r)
	if !ok {
		return
	}
	err := a.store.Revoke(r.Context(), k.ID)
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such key")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
