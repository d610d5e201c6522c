package apikey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is a named rate limit: Rate requests per Period on average, in
// bursts of at most Burst. A key carries its limits in Key.Limits, or a
// policy given with WithLimits hands them out (by plan, say); the
// middleware charges every one of them, after authentication, before the
// handler.
//
// The zero value is not a usable limit: Rate and Period are required. A
// limit is a value, safe to copy and to share.
type Limit struct {
	// Name names the limit in the RateLimit and RateLimit-Policy response
	// fields, in metrics and in the audit line, and, with Scope, names its
	// bucket: two limits of one key need two names. Up to 64 bytes of
	// letters, digits and "-_.:". Default (empty): "default".
	Name string
	// Rate is how many requests (of cost 1) the limit lets through per
	// Period, on average. Required, positive.
	Rate int
	// Period is the window of Rate. Required, positive.
	Period time.Duration
	// Burst is how many requests may go through at once, after a quiet
	// spell. Default (0): Rate.
	Burst int
	// Scope says whose limit it is: the key's own, or shared by every key
	// of its owner or organization. Default (empty): ScopeKey.
	Scope Scope
}

// Scope says who shares the bucket of a Limit.
type Scope string

// The scopes.
const (
	// ScopeKey gives each key a bucket of its own. It is the zero value.
	ScopeKey Scope = ""
	// ScopeOwner shares one bucket between every key of the key's owner
	// (Owner.Type and Owner.ID), so that a customer cannot escape a limit
	// by making more keys. A key with no owner ID keeps a bucket of its own.
	ScopeOwner Scope = "owner"
	// ScopeOrganization shares one bucket between every key of the key's
	// organization: Owner.OrganizationID for a user's key, Owner.ID for an
	// organization's. A key with neither keeps a bucket of its own.
	ScopeOrganization Scope = "organization"
)

// DefaultLimitName is the name of a Limit whose Name is empty.
const DefaultLimitName = "default"

// maxLimitName bounds a limit's name, which goes into every limited
// response.
const maxLimitName = 64

// Rate-limit bounds, so that the arithmetic of the limiters never
// overflows: a period of up to a year, and up to a billion requests in it.
const (
	maxLimitPeriod = 366 * 24 * time.Hour
	maxLimitRate   = 1_000_000_000
	// maxLimitTolerance bounds the time a whole burst takes to come back,
	// Period/Rate×Burst, which a limiter adds to a clock in nanoseconds.
	maxLimitTolerance = 100 * maxLimitPeriod
)

// NameOrDefault returns l.Name, or DefaultLimitName when it is empty.
func (l Limit) NameOrDefault() string {
	if l.Name == "" {
		return DefaultLimitName
	}
	return l.Name
}

// BurstOrDefault returns l.Burst, or l.Rate when Burst is zero.
func (l Limit) BurstOrDefault() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// Validate reports what is wrong with l, as an error matching
// ErrMisconfigured, or nil. The middleware refuses a request whose key
// carries an invalid limit with 500: it never lets it through unlimited.
func (l Limit) Validate() error {
	switch {
	case !validLimitName(l.Name):
		return configError("Limit", "the name %q must be up to %d letters, digits or -_.:", l.Name, maxLimitName)
	case l.Rate <= 0 || l.Rate > maxLimitRate:
		return configError("Limit", "limit %q: the rate must be from 1 to %d, not %d", l.NameOrDefault(), maxLimitRate, l.Rate)
	case l.Period <= 0 || l.Period > maxLimitPeriod:
		return configError("Limit", "limit %q: the period must be positive and at most %s, not %s", l.NameOrDefault(), maxLimitPeriod, l.Period)
	case l.Burst < 0 || l.Burst > maxLimitRate:
		return configError("Limit", "limit %q: the burst must be from 0 (the rate) to %d, not %d", l.NameOrDefault(), maxLimitRate, l.Burst)
	// A burst up to the rate comes back within the period: only a larger
	// one needs the (floating-point) check, which the hit path then skips.
	case l.Burst > l.Rate && float64(l.Period)*float64(l.Burst)/float64(l.Rate) > float64(maxLimitTolerance):
		return configError("Limit", "limit %q: a burst of %d at %d per %s takes more than a century to come back", l.NameOrDefault(), l.BurstOrDefault(), l.Rate, l.Period)
	case l.Scope != ScopeKey && l.Scope != ScopeOwner && l.Scope != ScopeOrganization:
		return configError("Limit", "limit %q: unknown scope %q", l.NameOrDefault(), l.Scope)
	}
	return nil
}

// validLimitName reports whether name needs no escaping anywhere it goes:
// a structured-field string, a metric label, a Redis key.
func validLimitName(name string) bool {
	if len(name) > maxLimitName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// String returns l in the form ParseLimit reads, such as
// "default=100/1m0s" or "burst=10/1s,burst=20,scope=owner".
func (l Limit) String() string {
	s := l.NameOrDefault() + "=" + strconv.Itoa(l.Rate) + "/" + l.Period.String()
	if l.Burst != 0 {
		s += ",burst=" + strconv.Itoa(l.Burst)
	}
	if l.Scope != ScopeKey {
		s += ",scope=" + string(l.Scope)
	}
	return s
}

// ParseLimit reads a limit written as name=rate/period, optionally
// followed by ",burst=N" and ",scope=owner" (or organization): for example
// "default=100/1m", "search=10/1s,burst=20" or "daily=10000/24h,scope=owner".
// The name and "=" may be left out for the default name. It is the form a
// store of plain strings (key metadata, an environment variable, a flag)
// holds a limit in. The error matches ErrMisconfigured.
func ParseLimit(s string) (Limit, error) {
	var l Limit
	head, params, _ := strings.Cut(strings.TrimSpace(s), ",")
	if name, rest, ok := strings.Cut(head, "="); ok {
		l.Name, head = strings.TrimSpace(name), rest
	}
	rate, period, ok := strings.Cut(head, "/")
	if !ok {
		return Limit{}, configError("ParseLimit", "%q is not of the form name=rate/period", s)
	}
	var err error
	if l.Rate, err = strconv.Atoi(strings.TrimSpace(rate)); err != nil {
		return Limit{}, configError("ParseLimit", "%q: the rate is not an integer", s)
	}
	if l.Period, err = time.ParseDuration(strings.TrimSpace(period)); err != nil {
		return Limit{}, configError("ParseLimit", "%q: the period is not a duration such as 1s or 24h", s)
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ",")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "burst":
			if l.Burst, err = strconv.Atoi(v); err != nil {
				return Limit{}, configError("ParseLimit", "%q: the burst is not an integer", s)
			}
		case "scope":
			l.Scope = Scope(v)
		default:
			return Limit{}, configError("ParseLimit", "%q: unknown parameter %q", s, k)
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}

// ParseLimits reads limits written as ParseLimit reads them, separated by
// semicolons: "default=100/1m; daily=10000/24h,scope=owner". An empty s
// gives no limits. Two limits of one name are an error.
func ParseLimits(s string) ([]Limit, error) {
	var limits []Limit
	for part := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		l, err := ParseLimit(part)
		if err != nil {
			return nil, err
		}
		for _, o := range limits {
			if o.NameOrDefault() == l.NameOrDefault() {
				return nil, configError("ParseLimits", "two limits named %q", l.NameOrDefault())
			}
		}
		limits = append(limits, l)
	}
	return limits, nil
}

// limitJSON is how a Limit reads and writes as JSON: the period as a
// duration string ("1s", "24h"), as an operator writes it.
type limitJSON struct {
	Name   string `json:"name,omitempty"`
	Rate   int    `json:"limit"`
	Period string `json:"period"`
	Burst  int    `json:"burst,omitempty"`
	Scope  Scope  `json:"scope,omitempty"`
}

// unmarshalKnown is json.Unmarshal refusing fields that v does not have.
func unmarshalKnown(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// MarshalJSON writes l as {"name":…,"limit":100,"period":"1m0s",…}.
func (l Limit) MarshalJSON() ([]byte, error) {
	return json.Marshal(limitJSON{l.Name, l.Rate, l.Period.String(), l.Burst, l.Scope})
}

// UnmarshalJSON reads what MarshalJSON writes, such as
// {"limit": 5, "period": "1s"}, and validates it. A field it does not know
// is an error: a misspelt "burst" or "scope" would otherwise be dropped
// without a word, and the limit enforced differently than written.
func (l *Limit) UnmarshalJSON(b []byte) error {
	var j limitJSON
	if err := unmarshalKnown(b, &j); err != nil {
		return err
	}
	d, err := time.ParseDuration(j.Period)
	if err != nil {
		return fmt.Errorf("apikey: limit %q: the period %q is not a duration such as 1s or 24h", j.Name, j.Period)
	}
	v := Limit{Name: j.Name, Rate: j.Rate, Period: d, Burst: j.Burst, Scope: j.Scope}
	if err := v.Validate(); err != nil {
		return err
	}
	*l = v
	return nil
}

// Bucket names what a Limit counts against: the limit's scope and name,
// and the ID of whoever holds the bucket. It is comparable, and a Limiter
// may use it as a map key as it is.
type Bucket struct {
	Scope Scope
	// Kind is the owner's Type for ScopeOwner, empty otherwise.
	Kind string
	// ID is the key's ID for ScopeKey, the owner's or the organization's
	// ID for the shared scopes.
	ID string
	// Name is the limit's NameOrDefault.
	Name string
}

// BucketOf returns the bucket that l counts against for key.
func BucketOf(key *Key, l Limit) Bucket {
	name := l.NameOrDefault()
	switch l.Scope {
	case ScopeOwner:
		if key.Owner.ID != "" {
			return Bucket{Scope: ScopeOwner, Kind: key.Owner.Type, ID: key.Owner.ID, Name: name}
		}
	case ScopeOrganization:
		if key.Owner.OrganizationID != "" {
			return Bucket{Scope: ScopeOrganization, ID: key.Owner.OrganizationID, Name: name}
		}
		if key.Owner.Type == "organization" && key.Owner.ID != "" {
			return Bucket{Scope: ScopeOrganization, ID: key.Owner.ID, Name: name}
		}
	}
	return Bucket{Scope: ScopeKey, ID: key.ID, Name: name}
}

// String returns b as one string, such as "key/key_123/default" or
// "owner/organization/org_1/daily", for a store that keys its buckets by
// string (a Redis key). Distinct buckets give distinct strings as long as
// kinds hold no "/"; IDs may hold anything, since they come last but one
// and names hold no "/".
func (b Bucket) String() string {
	scope := string(b.Scope)
	if scope == "" {
		scope = "key"
	}
	if b.Scope == ScopeOwner {
		return scope + "/" + strconv.Quote(b.Kind) + "/" + b.ID + "/" + b.Name
	}
	return scope + "/" + b.ID + "/" + b.Name
}
