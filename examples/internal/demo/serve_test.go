package demo

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeCounter counts its Close calls.
type closeCounter struct{ n atomic.Int32 }

func (c *closeCounter) Close() error { c.n.Add(1); return nil }

// TestServeShutsDownThenCloses: when the signal context ends, a request in
// flight still gets its answer, Serve returns without error, and the app
// is closed once, after the server stopped.
func TestServeShutsDownThenCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	var app closeCounter
	ctx, signal := context.WithCancel(context.Background())
	defer signal()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, &app) }()

	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	<-started
	signal() // SIGTERM
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 50*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, 5*time.Second, time.Millisecond, "the listener closes at once")
	assert.Zero(t, app.n.Load(), "not closed while a request is in flight")
	close(release)

	assert.Equal(t, "done", <-answered)
	assert.NoError(t, <-served)
	assert.Equal(t, int32(1), app.n.Load())
}

// TestServeClosesAfterFailure: a server that cannot serve still closes the
// app, and reports why.
func TestServeClosesAfterFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	var app closeCounter
	err = Serve(context.Background(), &http.Server{ReadHeaderTimeout: time.Second}, ln, &app)
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.Equal(t, int32(1), app.n.Load())
}
