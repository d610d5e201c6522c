package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/sqlstore"
)

// keyView is a key as the admin routes show it; Value is set only in the
// answer to its creation.
type keyView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Owner        apikey.Owner      `json:"owner"`
	DisplayValue string            `json:"display_value"`
	Permissions  []string          `json:"permissions"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	LastUsedAt   time.Time         `json:"last_used_at,omitzero"`
	ExpiresAt    time.Time         `json:"expires_at,omitzero"`
	Value        string            `json:"value,omitempty"`
}

func viewOf(k *apikey.Key) keyView {
	return keyView{ID: k.ID, Name: k.Name, Owner: k.Owner, DisplayValue: k.DisplayValue, Permissions: k.Permissions,
		Metadata: k.Metadata, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt}
}

const maxAdminBody = 16 << 10

// createKey issues a key from {"name": …, "permissions": […]} for the
// caller's owner, and answers 201 with it and, this once, its value.
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
	k, value, err := a.store.Create(r.Context(), sqlstore.NewKey{Name: in.Name, Owner: caller.Owner, Permissions: in.Permissions})
	switch {
	case errors.Is(err, sqlstore.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the key store is unavailable")
		return
	}
	v := viewOf(k)
	v.Value = value
	writeJSON(w, http.StatusCreated, v)
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
		Data  []keyView `json:"data"`
		After string    `json:"after,omitempty"`
	}{Data: []keyView{}, After: page.After}
	for _, k := range page.Keys {
		out.Data = append(out.Data, viewOf(k))
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
