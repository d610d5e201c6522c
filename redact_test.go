package apikey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leakyValue is a key that the validators below put in their errors. It
// holds the token68 characters that URL escaping changes, so that its
// escaped forms differ from it.
const leakyValue = "sk_test_leaky+key/0123456789=="

// leakyForms are the forms of leakyValue that no error, event or log line
// may hold.
var leakyForms = []string{leakyValue, url.QueryEscape(leakyValue), url.PathEscape(leakyValue)}

// storeError is a validator's own error type, whose text holds no key.
type storeError struct{ Code int }

func (e *storeError) Error() string { return "store error " + strconv.Itoa(e.Code) }

// namingError is a validator's own error type that matches ErrInvalidKey
// through its Is method, and names the key in its text.
type namingError struct{ value string }

func (e namingError) Error() string        { return "no key " + e.value }
func (e namingError) Is(target error) bool { return target == ErrInvalidKey }

// lookupError is a validator's own wrapper whose text holds nothing of
// what it wraps.
type lookupError struct{ err error }

func (e lookupError) Error() string { return "lookup failed" }
func (e lookupError) Unwrap() error { return e.err }

// A validator's error that holds the key value, as it is or URL-escaped,
// reaches the error handler, Authenticate's caller, both hooks and the
// failure log redacted, with the same outcome, the same sentinels and
// Retry-After, and the validator's own error types that hold no key.
func TestValidatorErrorRedacted(t *testing.T) {
	deadline := &url.Error{Op: "Get", URL: "https://keys.example/v1/validate?key=" + url.QueryEscape(leakyValue), Err: context.DeadlineExceeded}
	tests := []struct {
		name   string
		err    error
		status int
		is     []error
		text   string // the error handler's error's text
		check  func(t *testing.T, err error)
	}{{
		name: "text", err: errors.New("no such key " + leakyValue), status: 503, is: []error{ErrUnavailable},
		text: "apikey: validator unavailable: no such key [redacted]",
	}, {
		name: "wrapped sentinel", err: fmt.Errorf("%w: no such key %s", ErrInvalidKey, leakyValue), status: 401, is: []error{ErrInvalidKey},
		text: "apikey: invalid key: no such key [redacted]",
	}, {
		name: "own type matching by Is", err: namingError{leakyValue}, status: 401, is: []error{ErrInvalidKey},
		text: "no key [redacted]",
	}, {
		name: "misconfigured", err: fmt.Errorf("%w: the store refused %q", ErrMisconfigured, leakyValue), status: 500, is: []error{ErrMisconfigured},
		text: `apikey: misconfigured: the store refused "[redacted]"`,
	}, {
		name: "joined", err: errors.Join(ErrInvalidKey, errors.New("saw "+leakyValue)), status: 401, is: []error{ErrInvalidKey},
		text: "apikey: invalid key\nsaw [redacted]",
	}, {
		name: "url.Error with a query, in an UnavailableError", status: 503,
		err:  &UnavailableError{RetryAfter: 7 * time.Second, RequestID: "req_42", Err: deadline},
		is:   []error{ErrUnavailable, context.DeadlineExceeded},
		text: `apikey: validator unavailable: Get "https://keys.example/v1/validate?key=[redacted]": context deadline exceeded (request id req_42)`,
		check: func(t *testing.T, err error) {
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, 7*time.Second, ue.RetryAfter)
			assert.Equal(t, "req_42", ue.RequestID)
			var ue2 *url.Error
			assert.False(t, errors.As(err, &ue2), "the *url.Error held the key: it is not reachable")
		},
	}, {
		name: "url.Error with a path, over the store's own error", status: 503, is: []error{ErrUnavailable},
		err:  &url.Error{Op: "Get", URL: "https://keys.example/v1/keys/" + url.PathEscape(leakyValue), Err: &storeError{Code: 502}},
		text: `apikey: validator unavailable: Get "https://keys.example/v1/keys/[redacted]": store error 502`,
		check: func(t *testing.T, err error) {
			var se *storeError
			require.ErrorAs(t, err, &se, "the store's error holds no key: errors.As still finds it")
			assert.Equal(t, 502, se.Code)
		},
	}, {
		name: "clean text over an error that holds it", status: 503, is: []error{ErrUnavailable},
		err:  lookupError{fmt.Errorf("GET /keys/%s: %w", leakyValue, &storeError{Code: 404})},
		text: "apikey: validator unavailable: lookup failed",
		check: func(t *testing.T, err error) {
			var le lookupError
			assert.False(t, errors.As(err, &le), "it wraps the key: it is not reachable")
			var se *storeError
			require.ErrorAs(t, err, &se, "the store's error under both holds no key")
			assert.Equal(t, 404, se.Code)
		},
	}, {
		name: "request id", err: &UnavailableError{RetryAfter: time.Minute, RequestID: leakyValue}, status: 503, is: []error{ErrUnavailable},
		text: "apikey: validator unavailable (request id [redacted])",
		check: func(t *testing.T, err error) {
			assert.Equal(t, "60", retryAfterSeconds(err))
		},
	}}
	for _, tc := range tests {
		for _, cached := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/cached=%v", tc.name, cached), func(t *testing.T) {
				var mu sync.Mutex
				var errs []error
				record := func(err error) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				v := ValidatorFunc(func(context.Context, string) (*Key, error) { return nil, tc.err })
				logger, logs := testLogger()
				opts := []Option{
					WithLogger(logger), WithLogInterval(0),
					WithHooks(Hooks{
						Request:    func(e RequestEvent) { record(e.Err) },
						Validation: func(e ValidationEvent) { record(e.Err) },
					}),
					WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
						record(err)
						assert.EqualError(t, err, tc.text)
						for _, target := range tc.is {
							assert.ErrorIs(t, err, target)
						}
						if tc.check != nil {
							tc.check(t, err)
						}
						WriteError(w, r, err)
					}),
				}
				if cached {
					opts = append(opts, WithNegativeCacheTTL(0))
				} else {
					opts = append(opts, WithoutCache())
				}
				m, err := New(v, opts...)
				require.NoError(t, err)

				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+leakyValue)
				_, err = m.Authenticate(r)
				record(err)
				assert.EqualError(t, err, tc.text)
				w := httptest.NewRecorder()
				m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
				assert.Equal(t, tc.status, w.Code)

				mu.Lock()
				defer mu.Unlock()
				assert.Len(t, errs, 5, "Authenticate, 2 validator calls, the error handler, the request")
				printed := []string{logs.String(), w.Body.String(), fmt.Sprint(w.Header())}
				for _, err := range errs {
					require.Error(t, err)
					assert.Equal(t, OutcomeOf(tc.err), OutcomeOf(err))
					printed = append(printed, fmt.Sprintf("%v|%+v|%#v|%s", err, err, err, err))
					for e := range walkErrors(err) {
						printed = append(printed, e.Error(), fmt.Sprintf("%#v", e))
					}
				}
				for _, s := range printed {
					for _, form := range leakyForms {
						assert.NotContains(t, s, form)
					}
				}
				if tc.status != 401 && strings.Contains(tc.text, redacted) {
					assert.Contains(t, logs.String(), redacted, "the failure log says what it can")
				}
			})
		}
	}
}

// walkErrors yields err and everything it wraps, to any depth.
func walkErrors(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			case interface{ Unwrap() []error }:
				for _, c := range u.Unwrap() {
					if !walk(c) {
						return false
					}
				}
			}
			return true
		}
		walk(err)
	}
}

// An error that holds no key value passes on as it is, wrapped in an
// UnavailableError when it names no sentinel, as before.
func TestValidatorErrorWithoutKeyKept(t *testing.T) {
	own := &storeError{Code: 500}
	for _, err := range []error{own, fmt.Errorf("lookup: %w", own), errors.Join(errors.New("a"), own)} {
		got := redactValue(err, leakyValue)
		assert.Same(t, err, got)
		var se *storeError
		require.ErrorAs(t, got, &se)
		assert.Same(t, own, se)
	}
}

// The forms of a value that redaction looks for are those URL escaping
// writes; a value with nothing to escape is looked for once.
func TestRedactValueForms(t *testing.T) {
	err := errors.New("a " + leakyValue + " b " + url.QueryEscape(leakyValue) + " c " + url.PathEscape(leakyValue))
	assert.EqualError(t, redactValue(err, leakyValue), "a [redacted] b [redacted] c [redacted]")
	assert.EqualError(t, redactValue(errors.New("x sk_plain_1 y"), "sk_plain_1"), "x [redacted] y")
	assert.True(t, strings.Contains(url.QueryEscape(leakyValue), "%2B"), "the value has something to escape")
}

// The package's sentinels and the context's errors hold no key, whatever
// the value: one found in their fixed text by chance (a client sending
// "key") leaves them as they are, unwalked, and costs no allocation.
func TestFixedErrorsNotRedacted(t *testing.T) {
	tests := []struct {
		name, value string
		err         error
	}{
		{"invalid key, value in its text", "key", ErrInvalidKey},
		{"invalid key, one letter", "a", ErrInvalidKey},
		{"unavailable", "validator", ErrUnavailable},
		{"quota exhausted", "quota", ErrQuotaExhausted},
		{"deadline", "deadline", context.DeadlineExceeded},
		{"canceled", "context", context.Canceled},
		{"any value", leakyValue, ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.True(t, redactValue(tc.err, tc.value) == tc.err, "the error itself, not a stand-in")
			wrapped := fmt.Errorf("no such %s: %w", tc.value, tc.err)
			got := redactValue(wrapped, tc.value)
			assert.NotContains(t, got.Error(), "such "+tc.value, "the wrapper's own text is redacted")
			u, ok := got.(interface{ Unwrap() []error })
			require.True(t, ok)
			require.Len(t, u.Unwrap(), 1)
			assert.True(t, u.Unwrap()[0] == tc.err, "the sentinel under it is kept as it is")
		})
	}
	allocs := testing.AllocsPerRun(100, func() { _ = redactValue(ErrInvalidKey, leakyValue) })
	assert.Zero(t, allocs, "ErrInvalidKey, the answer to a flood of made-up keys, costs no allocation")
}

// An error whose Error method panics (a typed nil, say) is a panicking
// validator, answered 500, never a panic in a log line.
func TestValidatorErrorPanicsWhenPrinted(t *testing.T) {
	var nilErr *storeError
	v := ValidatorFunc(func(context.Context, string) (*Key, error) { return nil, nilErr })
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			opts := []Option{WithLogger(slogDiscard())}
			if !cached {
				opts = append(opts, WithoutCache())
			}
			m, err := New(v, opts...)
			require.NoError(t, err)
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+leakyValue)
			_, err = m.Authenticate(r)
			assert.ErrorIs(t, err, ErrValidatorPanicked)
		})
	}
}

// A custom extractor's error passes on as its kind only: its text may hold
// what it read. The package's own reasons pass on, even wrapped.
func TestExtractorErrorText(t *testing.T) {
	header := func(r *http.Request) string { return r.Header.Get("X-Key") }
	tests := []struct {
		name    string
		extract Extractor
		text    string
	}{
		{"names the key", func(r *http.Request) (string, error) {
			return "", fmt.Errorf("%w: %q is no key", ErrMalformedKey, header(r))
		}, "apikey: malformed key: the key could not be read"},
		{"not malformed", func(r *http.Request) (string, error) {
			return "", errors.New("cannot read " + header(r))
		}, "apikey: malformed key: the key could not be read"},
		{"wraps the package's reason", func(r *http.Request) (string, error) {
			_, err := FromHeader("X-Key")(r)
			return "", fmt.Errorf("read %s: %w", header(r), err)
		}, "apikey: malformed key: more than one X-Key header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(testStatic(), WithExtractor(tc.extract))
			require.NoError(t, err)
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Add("X-Key", leakyValue)
			r.Header.Add("X-Key", leakyValue)
			_, err = m.Authenticate(r)
			assert.ErrorIs(t, err, ErrMalformedKey)
			assert.EqualError(t, err, tc.text)
			w := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.NotContains(t, w.Body.String(), leakyValue)
		})
	}
}
