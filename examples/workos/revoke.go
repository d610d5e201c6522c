package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/workos"
)

// revoker applies an invalidation and says whether every replica is bound
// to learn it: the fleet (redisfleet.Fleet.Revoke) when there is one, the
// cache alone otherwise, which forgets at once.
type revoker func(ctx context.Context, inv apikey.Invalidation) error

// revokeKey is POST /keys/{id}/revoke, for a key with the keys:revoke
// permission: it deletes the key in WorkOS, then answers 204 only once
// every replica is bound to refuse it. 404 when WorkOS does not know the
// key; 503 when WorkOS or the fleet did not take it, for the caller to try
// again (deleting twice is harmless).
func revokeKey(client *workos.Client, revoke revoker, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		err := client.DeleteKey(r.Context(), id)
		switch {
		case errors.Is(err, workos.ErrNotFound):
			http.Error(w, "no such key", http.StatusNotFound)
			return
		case err != nil:
			logger.Warn("revoke: WorkOS did not delete the key", "key_id", id, "error", err.Error())
			http.Error(w, "the key could not be deleted, try again", http.StatusServiceUnavailable)
			return
		}
		if err := revoke(r.Context(), apikey.Invalidation{ID: id}); err != nil {
			logger.Warn("revoke: deleted in WorkOS, but not every replica is bound to refuse it yet", "key_id", id, "error", err.Error())
			http.Error(w, "deleted, but not yet refused everywhere: try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
