package apikey

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// token68Twin is one side of TestToken68LaterAnswersAsFirst: a middleware,
// its validator's calls and what its hooks saw.
type token68Twin struct {
	m        *Middleware
	calls    []string
	requests []string
}

func newToken68Twin(t *testing.T, opts ...Option) *token68Twin {
	tw := &token68Twin{}
	v := ValidatorFunc(func(_ context.Context, value string) (*Key, error) {
		tw.calls = append(tw.calls, value)
		if strings.HasPrefix(value, "ok") {
			return &Key{ID: "key_" + value}, nil
		}
		return nil, ErrInvalidKey
	})
	hooks := Hooks{Request: func(e RequestEvent) {
		tw.requests = append(tw.requests, fmt.Sprintf("%s %s %x %v", e.Outcome, e.Answer, e.Digest, e.Err))
	}}
	m, err := New(v, append([]Option{WithHooks(hooks), WithMaxKeyLength(12)}, opts...)...)
	require.NoError(t, err)
	tw.m = m
	return tw
}

// serve sends value through the side's handler (Optional, or Handler) or
// Authenticate, and returns what a client or a caller sees.
func (tw *token68Twin) serve(how, header string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	if how == "authenticate" {
		key, err := tw.m.Authenticate(r)
		return fmt.Sprintf("%v %v", key, err)
	}
	h := tw.m.Handler(okHandler)
	if how == "optional" {
		h = tw.m.Optional(okHandler)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return fmt.Sprintf("%d %v %s", w.Code, w.Header(), w.Body)
}

// The default extractor's token68 check, which the middleware runs after
// its cache, gives every answer that running it first (the exported
// FromAuthorizationBearer, given as a custom extractor) gives: the same
// responses, errors, hook events and validator calls, over random requests
// with and without a cache, values too long and outside token68 among
// them, while a shared Cache's Validate comes to hold values outside
// token68.
func TestToken68LaterAnswersAsFirst(t *testing.T) {
	values := []string{
		"ok1", "ok2", "no1", // token68, valid and not
		"ok1!", "ok 2", "no1!", // outside token68
		"ok1234567890123", "ok12345678901!", "ok 1234567890123", // too long, and too long outside token68
		"ok=", "ok==a", "=ok", // padding
	}
	for _, mode := range []struct {
		name string
		opts []Option
	}{
		{"cached", nil},
		{"uncached", []Option{WithoutCache()}},
	} {
		for _, how := range []string{"handler", "optional", "authenticate"} {
			t.Run(mode.name+" "+how, func(t *testing.T) {
				later := newToken68Twin(t, mode.opts...)
				first := newToken68Twin(t, append(mode.opts, WithExtractor(FromAuthorizationBearer))...)
				require.True(t, later.m.token68Later, "the side under test defers the check")
				r := rand.New(rand.NewPCG(7, 7))
				for i := range 400 {
					v := values[r.IntN(len(values))]
					if r.IntN(20) == 0 && later.m.Cache() != nil {
						// A shared Cache's own Validate checks no syntax.
						_, errL := later.m.Cache().Validate(context.Background(), v)
						_, errF := first.m.Cache().Validate(context.Background(), v)
						require.Equal(t, fmt.Sprint(errF), fmt.Sprint(errL), "Validate %q", v)
						continue
					}
					header := "Bearer " + v
					require.Equal(t, first.serve(how, header), later.serve(how, header), "request %d: %q", i, v)
				}
				assert.Equal(t, first.calls, later.calls, "the validator calls")
				assert.Equal(t, first.requests, later.requests, "the hooks' events")
				if c := later.m.Cache(); c != nil {
					assert.Equal(t, first.m.Cache().Stats(), c.Stats())
				}
			})
		}
	}
}
