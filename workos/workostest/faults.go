package workostest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// A Fault answers a request in place of the server's normal behaviour, or
// delays it: it returns true when it has answered (or dropped the
// connection), false to let the server answer normally after it.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// Reply answers with status, the headers given as name, value pairs, and
// body (sent as application/json when not empty).
func Reply(status int, body string, headers ...string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// Slow holds the request for d, or until the client gives up, then lets
// the server answer it normally.
func Slow(d time.Duration) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		return false
	}
}

// Oversized answers 200 with a JSON object of more than n bytes that
// would otherwise read as a valid answer ("api_key": null, padded).
func Oversized(n int) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"api_key":null,"pad":"`+strings.Repeat("x", n)+`"}`)
		return true
	}
}

// Truncated answers status with a Content-Length of the whole body but
// sends only its first half, then closes the connection: the client reads
// an unexpected end of the body.
func Truncated(status int, body string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return true
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n" +
			"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:len(body)/2])
		_ = buf.Flush()
		return true
	}
}

// SlowBody answers status with the headers and the first half of body at
// once, then holds the rest back for d, or until the client gives up.
func SlowBody(status int, body string, d time.Duration) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_, _ = io.WriteString(w, body[len(body)/2:])
		case <-r.Context().Done():
		}
		return true
	}
}

// HangUp closes the connection without answering, as a proxy that drops
// it would.
func HangUp() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
		return true
	}
}

// Reset aborts the connection with a TCP reset instead of an answer.
func Reset() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return true
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		_ = conn.Close()
		return true
	}
}

// LostAnswer handles the request normally, so that its change is made,
// then hangs up instead of answering: the client never learns the outcome.
func (s *Server) LostAnswer() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		body, _ := io.ReadAll(r.Body)
		s.handle(httptest.NewRecorder(), r, body)
		return HangUp()(w, r)
	}
}

// ClosedURL returns the base URL of a server that has stopped listening:
// every connection to it is refused.
func ClosedURL() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
