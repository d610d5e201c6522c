package demo

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout is how long the requests in flight get to finish once a
// deploy asks the process to stop.
const ShutdownTimeout = 10 * time.Second

// Serve answers on ln until ctx ends (SIGINT or SIGTERM in main), lets the
// requests in flight finish within ShutdownTimeout, and then closes app, so
// that what it queued (a fleet's invalidations, a store's last uses) is
// written before the process exits. If the server fails first, app is
// closed all the same.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, app io.Closer) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err = srv.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	return errors.Join(err, app.Close())
}
