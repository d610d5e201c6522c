package peers

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apikeyauth/apikey"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	jose "gopkg.in/go-jose/go-jose.v2"
	"gopkg.in/go-jose/go-jose.v2/jwt"
)

const (
	// goodKey is the API key that apikey and echo accept; wrongKey is a
	// well-formed key that neither knows.
	goodKey  = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
	wrongKey = "sk_test_0000000000000000000000000"

	jwtIssuer   = "https://issuer.example/"
	jwtAudience = "https://api.example/"
)

var (
	jwtSecret      = []byte("0123456789abcdef0123456789abcdef")
	wrongJWTSecret = []byte("fedcba9876543210fedcba9876543210")
	okBody         = []byte("ok")
)

// discard is a minimal non-recording ResponseWriter: Header returns a reused
// map and Write throws the bytes away, so that a recorder does not dominate
// the measurement.
type discard struct{ h http.Header }

func newDiscard() *discard                     { return &discard{h: http.Header{}} }
func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// setup is one contender: a handler, a request it must accept (200) and,
// unless nil, a request it must refuse (401).
type setup struct {
	name  string
	h     http.Handler
	good  *http.Request
	wrong *http.Request
}

func request(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/posts", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// bareSetup is a plain handler: no authentication at all.
func bareSetup(testing.TB) setup {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(okBody) })
	return setup{name: "bare", h: h, good: request(goodKey)}
}

func newAPIKey(tb testing.TB) *apikey.Middleware {
	tb.Helper()
	static, err := apikey.NewStatic(map[string]apikey.Key{
		goodKey: {
			ID:          "api_key_01EHZNVPK3SFK441A1RGBFSHRT",
			Name:        "bench",
			Owner:       apikey.Owner{Type: "organization", ID: "org_01EHZNVPK3SFK441A1RGBFSHRT"},
			Permissions: []string{"posts:read", "posts:write"},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := apikey.New(static)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// keyHandler is the handler behind apikey: it reads the key the middleware
// put in the context, as a real handler would.
var keyHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, ok := apikey.FromContext(r.Context()); !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Write(okBody)
})

// apikeySetup is apikey.New(apikey.NewStatic(...)).Handler, with the default
// cache in front of Static. The 200 assertion warms the cache, so the loop
// measures cache hits.
func apikeySetup(tb testing.TB) setup {
	m := newAPIKey(tb)
	return setup{name: "apikey", h: m.Handler(keyHandler), good: request(goodKey), wrong: request(wrongKey)}
}

// apikeyPermissionSetup adds the RequirePermission guard, which runs on every
// request on the cached key.
func apikeyPermissionSetup(tb testing.TB) setup {
	m := newAPIKey(tb)
	h := m.Handler(apikey.RequirePermission("posts:read")(keyHandler))
	return setup{name: "apikey+permission", h: h, good: request(goodKey), wrong: request(wrongKey)}
}

type echoKey struct {
	value string
	id    string
}

// echoKeyAuthSetup is echo's KeyAuth with the validator echo's docs advise: a
// lookup (here in a map of known keys) and a constant-time comparison. The
// validator stores the key's record in the echo context for the handler.
func echoKeyAuthSetup(tb testing.TB) setup {
	keys := map[string]*echoKey{goodKey: {value: goodKey, id: "api_key_01EHZNVPK3SFK441A1RGBFSHRT"}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.KeyAuth(func(key string, c echo.Context) (bool, error) {
		k, ok := keys[key]
		if !ok || subtle.ConstantTimeCompare([]byte(key), []byte(k.value)) != 1 {
			return false, nil
		}
		c.Set("apikey", k)
		return true, nil
	}))
	e.GET("/posts", func(c echo.Context) error {
		if _, ok := c.Get("apikey").(*echoKey); !ok {
			return echo.ErrInternalServerError
		}
		_, err := c.Response().Write(okBody)
		return err
	})
	return setup{name: "echo-keyauth", h: e, good: request(goodKey), wrong: request(wrongKey)}
}

// echoBareSetup is the same echo instance without KeyAuth: the cost of
// echo's router and context alone, to separate it from KeyAuth's.
func echoBareSetup(testing.TB) setup {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/posts", func(c echo.Context) error {
		_, err := c.Response().Write(okBody)
		return err
	})
	return setup{name: "echo-bare", h: e, good: request(goodKey)}
}

// signJWT signs an HS256 token with the validator's issuer and audience,
// valid for an hour.
func signJWT(tb testing.TB, secret []byte) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	token, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   jwtIssuer,
		Subject:  "user_01EHZNVPK3SFK441A1RGBFSHRT",
		Audience: jwt.Audience{jwtAudience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(time.Hour)),
	}).CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return token
}

// auth0Setup is go-jwt-middleware's CheckJWT with its validator package:
// HS256, a fixed issuer and audience, and a token signed once here. Every
// request parses the token, checks its HMAC and its claims: a JWT has
// nothing to cache.
func auth0Setup(tb testing.TB) setup {
	v, err := validator.New(
		func(context.Context) (interface{}, error) { return jwtSecret, nil },
		validator.HS256, jwtIssuer, []string{jwtAudience},
	)
	if err != nil {
		tb.Fatal(err)
	}
	m := jwtmiddleware.New(v.ValidateToken)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims); !ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write(okBody)
	})
	return setup{
		name:  "auth0-jwt-hs256",
		h:     m.CheckJWT(next),
		good:  request(signJWT(tb, jwtSecret)),
		wrong: request(signJWT(tb, wrongJWTSecret)),
	}
}

func allSetups(tb testing.TB) []setup {
	return []setup{
		bareSetup(tb),
		apikeySetup(tb),
		apikeyPermissionSetup(tb),
		echoBareSetup(tb),
		echoKeyAuthSetup(tb),
		auth0Setup(tb),
	}
}

func parallelSetups(tb testing.TB) []setup {
	return []setup{apikeySetup(tb), echoKeyAuthSetup(tb), auth0Setup(tb)}
}

// check asserts that s answers its good request with 200 and "ok", and its
// wrong request, if any, with 401, so that a benchmark cannot silently
// measure a rejection. For apikey it also warms the cache.
func check(tb testing.TB, s setup) {
	tb.Helper()
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, s.good)
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		tb.Fatalf("%s: good request: got %d %q, want 200 \"ok\"", s.name, rec.Code, rec.Body.String())
	}
	if s.wrong == nil {
		return
	}
	rec = httptest.NewRecorder()
	s.h.ServeHTTP(rec, s.wrong)
	if rec.Code != http.StatusUnauthorized {
		tb.Fatalf("%s: wrong key: got %d, want 401", s.name, rec.Code)
	}
}

func TestSetups(t *testing.T) {
	for _, s := range allSetups(t) {
		t.Run(s.name, func(t *testing.T) {
			check(t, s)
			// Twice: the second good request is a cache hit for apikey,
			// and must answer the same.
			check(t, s)
		})
	}
}

// BenchmarkPeers measures the authenticated path of a GET /posts through each
// setup, serially, with the same request object every iteration.
func BenchmarkPeers(b *testing.B) {
	for _, s := range allSetups(b) {
		b.Run(s.name, func(b *testing.B) {
			check(b, s)
			w := newDiscard()
			b.ReportAllocs()
			for b.Loop() {
				s.h.ServeHTTP(w, s.good)
			}
		})
	}
}

// BenchmarkPeersParallel is the same authenticated path under RunParallel for
// apikey, echo and auth0. Each goroutine has its own writer and its own clone
// of the request.
func BenchmarkPeersParallel(b *testing.B) {
	for _, s := range parallelSetups(b) {
		b.Run(s.name, func(b *testing.B) {
			check(b, s)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := newDiscard()
				r := s.good.Clone(context.Background())
				for pb.Next() {
					s.h.ServeHTTP(w, r)
				}
			})
		})
	}
}
