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

// createKey issues a key from {"name": …, "permissions": […]} for the
// caller's owner, and answers 201 with it and, this once, its value. It
// refuses (403) a permission that the caller's own key does not grant, so
// that no key can mint one more powerful than itself.
func (a *app) createKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be {"name": "…", "permissions": ["…"]}`)
		return
	}
	caller, _ := apikey.FromContext(r.Context())
	for _, p := range in.Permissions {
		if !caller.HasPermission(p) {
			writeError(w, http.StatusForbidden, "your key does not grant "+strconv.Quote(p)+": it cannot give it")
			return
		}
	}
	k, value, err := a.store.Create(r.Context(), sqlstore.NewKey{Name: in.Name, Owner: caller.Owner, Permissions: in.Permissions})
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
	caller, _ := apikey.FromContext(r.Context())
	id := r.PathValue("id")
	k, err := a.store.Get(r.Context(), id)
	if err == nil && k.Owner.ID != caller.Owner.ID {
		err = sqlstore.ErrNotFound // another owner's key is none of the caller's business
	}
	if err == nil {
		err = a.store.Revoke(r.Context(), id)
	}
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
