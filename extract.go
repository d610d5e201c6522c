package apikey

import (
	"net/http"
	"net/textproto"
	"strings"
)

// Extractor finds the API key in a request. It returns "" and a nil error
// when the request carries no key, and an error wrapping ErrMalformedKey when
// it carries something that cannot be one. Extractors never return an error
// that holds the key; should a custom one do so, the middleware passes on
// only the error's kind (ErrMalformedKey), never its text.
type Extractor func(r *http.Request) (string, error)

// FromAuthorizationBearer extracts the key from an "Authorization: Bearer
// <key>" header (RFC 6750 §2.1), the default Extractor. The scheme is matched
// case-insensitively and may be followed by one or more spaces; the key must
// be token68 characters. A request with no Authorization header, or with one
// of another scheme (such as Basic), carries no key. An empty key, two
// Authorization headers, or anything after the key is malformed.
func FromAuthorizationBearer(r *http.Request) (string, error) {
	key, err := bearerValue(r)
	if err != nil || key == "" {
		return key, err
	}
	if !isToken68(key) {
		return "", errNotToken68()
	}
	return key, nil
}

// bearerValue is FromAuthorizationBearer without the token68 check, which
// a Middleware runs itself, after its cache (see Cache.find): a value the
// cache holds as valid passed it when it was validated, and scanning it
// again costs an eighth of a hit.
func bearerValue(r *http.Request) (string, error) {
	values := r.Header["Authorization"]
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errMalformed("more than one Authorization header")
	}
	h := values[0]
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if h == "" {
			return "", errMalformed("empty Authorization header")
		}
		if len(scheme) > 6 && strings.EqualFold(scheme[:7], "Bearer\t") {
			return "", errMalformed("the Authorization scheme must be followed by a space")
		}
		return "", nil
	}
	key := strings.TrimLeft(rest, " ")
	if key == "" {
		return "", errMalformed("empty bearer key")
	}
	return key, nil
}

func errNotToken68() error { return errMalformed("the bearer key must be one token68 value") }

// FromHeader returns an Extractor that reads the key from the named header,
// such as "X-API-Key", whose whole value is the key. It is opt-in: combine it
// with the default through OneOf. Two such headers, an empty value or a value
// outside token68 are malformed.
func FromHeader(name string) Extractor {
	name = textproto.CanonicalMIMEHeaderKey(name)
	return func(r *http.Request) (string, error) {
		values := r.Header[name]
		switch len(values) {
		case 0:
			return "", nil
		case 1:
		default:
			return "", errMalformed("more than one " + name + " header")
		}
		return checkToken68(values[0], name+" header")
	}
}

// FromQuery returns an Extractor that reads the key from the named query
// parameter. Keys in URLs end up in access logs, proxies and browser
// history: prefer headers, and use this only where a client cannot set one.
// Two such parameters, an empty value or a value outside token68 are
// malformed.
func FromQuery(param string) Extractor {
	return func(r *http.Request) (string, error) {
		if r.URL == nil || r.URL.RawQuery == "" {
			return "", nil
		}
		values := r.URL.Query()[param]
		switch len(values) {
		case 0:
			return "", nil
		case 1:
		default:
			return "", errMalformed("more than one " + param + " query parameter")
		}
		return checkToken68(values[0], param+" query parameter")
	}
}

// OneOf returns an Extractor that tries each of extractors and returns the
// one key found. As RFC 6750 §2 requires, a request may carry its key in one
// place only: a key found in two places is malformed, even if both are equal.
// The first error stops the search.
func OneOf(extractors ...Extractor) Extractor {
	return func(r *http.Request) (string, error) {
		var found string
		for _, extract := range extractors {
			key, err := extract(r)
			if err != nil {
				return "", err
			}
			if key == "" {
				continue
			}
			if found != "" {
				return "", errMalformed("the key is sent in more than one place")
			}
			found = key
		}
		return found, nil
	}
}

func checkToken68(v, where string) (string, error) {
	if v == "" {
		return "", errMalformed("empty " + where)
	}
	if !isToken68(v) {
		return "", errMalformed("the " + where + " must be one token68 value")
	}
	return v, nil
}

// isToken68 reports whether s matches RFC 7235's
// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if !isToken68Char(s[i]) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func isToken68Char(c byte) bool { return token68Chars[c] }

// token68Chars marks the bytes that token68 allows before its padding.
var token68Chars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// malformedError is an ErrMalformedKey with a reason that is safe to show
// the client: it never holds the key.
type malformedError struct{ reason string }

func errMalformed(reason string) error { return &malformedError{reason} }

func (e *malformedError) Error() string { return ErrMalformedKey.Error() + ": " + e.reason }
func (e *malformedError) Unwrap() error { return ErrMalformedKey }
