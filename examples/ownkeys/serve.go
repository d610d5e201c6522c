package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout is how long the requests in flight get to finish once
// the process is asked to stop.
const shutdownTimeout = 10 * time.Second

// serve answers on ln until ctx ends (SIGINT or SIGTERM in main), lets the
// requests in flight finish within shutdownTimeout, and then closes app, so
// that the store writes the last uses still queued before the process
// exits. If the server fails first, app is closed all the same.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, app io.Closer) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err = srv.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	return errors.Join(err, app.Close())
}
