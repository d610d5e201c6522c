package apikey

import (
	"net/http"
	"strconv"
	"time"
	"unsafe"
)

// The RateLimit-Policy and RateLimit response fields of
// draft-ietf-httpapi-ratelimit-headers-09, in canonical form so that they
// go into an http.Header as they are. Both are Structured Field Lists
// (RFC 9651) of Strings, one per limit, named by the limit's name:
//
//	RateLimit-Policy: "default";q=100;w=60, "quota";q=1000;w=86400
//	RateLimit: "default";r=99;t=1, "quota";r=998;t=3600
//
// q is the limit's quota in requests per w seconds; r the requests left,
// t the seconds until the limit is full again, or, for a limit that
// refused the request, until it would be allowed (the same point in time
// as Retry-After). A quota's r is its credits left and its t the seconds
// until its next refill, left out for a quota that never refills, as is
// its w. A monthly refill's w is the current period's length
// (QuotaDecision.Interval), 28 to 31 days: q credits over that month.
const (
	rateLimitPolicyField = "Ratelimit-Policy"
	rateLimitField       = "Ratelimit"
)

// maxSFInteger is the largest Integer a structured field may carry.
const maxSFInteger = 999_999_999_999_999

// limitScratch is the room for the fields' values that a limited request
// needs past its decision, inside the request's one allocation; the
// decisions themselves stay on the stack. It is sized for up to two limits
// and a quota with short names, and kept small because every byte of it
// is allocated, zeroed and scanned on each request; longer values spill
// over to an allocation of their own.
type limitScratch struct {
	vals [2]string
	buf  [64]byte
}

// setRateLimitFields sets both fields on h for limits, their decisions
// ds, and the quota's decision q (nil when the quota was not read). Their
// values are written into s, which must not change afterwards.
func setRateLimitFields(h http.Header, limits []Limit, ds []Decision, q *QuotaDecision, s *limitScratch) {
	b := appendPolicy(s.buf[:0], limits, q)
	split := len(b)
	b = appendState(b, limits, ds, q)
	v := bytesString(b)
	setFields(h, v[:split], v[split:], s)
}

func setFields(h http.Header, policy, state string, s *limitScratch) {
	s.vals[0], s.vals[1] = policy, state
	h[rateLimitPolicyField] = s.vals[0:1:1]
	h[rateLimitField] = s.vals[1:2:2]
}

// bytesString returns b as a string without a copy. The values live in a
// limitScratch (or in what append grew its buffer into), which nothing
// writes again: the request needs no allocation of its own for them.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendPolicy appends the RateLimit-Policy field's value.
func appendPolicy(b []byte, limits []Limit, q *QuotaDecision) []byte {
	for i, l := range limits {
		if i > 0 {
			b = append(b, ", "...)
		}
		quota, window := policyWindow(l)
		b = appendItem(b, l.NameOrDefault(), "q", quota, "w", window, true)
	}
	if q != nil {
		if len(limits) > 0 {
			b = append(b, ", "...)
		}
		b = appendItem(b, QuotaName, "q", q.Limit, "w", ceilSeconds(q.Interval), q.Interval > 0)
	}
	return b
}

// appendState appends the RateLimit field's value.
func appendState(b []byte, limits []Limit, ds []Decision, q *QuotaDecision) []byte {
	for i, l := range limits {
		if i > 0 {
			b = append(b, ", "...)
		}
		t := ds[i].ResetAfter
		if !ds[i].Allowed {
			t = ds[i].RetryAfter
		}
		b = appendItem(b, l.NameOrDefault(), "r", int64(ds[i].Remaining), "t", ceilSeconds(t), true)
	}
	if q != nil {
		if len(limits) > 0 {
			b = append(b, ", "...)
		}
		b = appendItem(b, QuotaName, "r", q.Remaining, "t", ceilSeconds(q.RefillAfter), q.Interval > 0)
	}
	return b
}

// appendItem appends the list member "name";k1=v1;k2=v2, leaving k2 out
// unless has2 (a quota without refill has no w and no t). name needs no
// escaping: Limit.Validate allows no quote, backslash or control byte.
func appendItem(b []byte, name, k1 string, v1 int64, k2 string, v2 int64, has2 bool) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";`...)
	b = append(b, k1...)
	b = append(b, '=')
	b = strconv.AppendInt(b, sfInteger(v1), 10)
	if has2 {
		b = append(b, ';')
		b = append(b, k2...)
		b = append(b, '=')
		b = strconv.AppendInt(b, sfInteger(v2), 10)
	}
	return b
}

// sfInteger clamps v to the Integers a field's parameter may carry here.
func sfInteger(v int64) int64 { return min(max(v, 0), maxSFInteger) }

// policyWindow returns a limit's q and w: its rate per period when the
// period is whole seconds, else the rate scaled to the whole seconds above
// the period, since w has no sub-second precision.
func policyWindow(l Limit) (quota, window int64) {
	if l.Period%time.Second == 0 {
		return int64(l.Rate), int64(l.Period / time.Second)
	}
	window = ceilSeconds(l.Period)
	q := float64(l.Rate) * float64(time.Duration(window)*time.Second) / float64(l.Period)
	return int64(min(q, maxSFInteger)), window
}
