package workos

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a webhook's signature.
const SignatureHeader = "WorkOS-Signature"

// DefaultWebhookTolerance is how far a webhook's timestamp may be from now,
// in the past or the future.
const DefaultWebhookTolerance = 3 * time.Minute

// DefaultWebhookMaxBody is the largest webhook body the handler reads.
const DefaultWebhookMaxBody = 1 << 20

// signature is a parsed WorkOS-Signature header: "t=<unix ms>, v1=<hex>".
type signature struct {
	// Timestamp is the t field as sent, which the signature covers.
	Timestamp string
	// Time is Timestamp read as Unix milliseconds.
	Time time.Time
	// V1 are the v1 signatures, HMAC-SHA256 digests; at least one.
	V1 [][]byte
}

// parseSignature parses a WorkOS-Signature header: comma-separated
// key=value fields, with or without spaces after the commas, exactly one t
// (decimal Unix milliseconds) and one or more v1 (64 hex digits). Unknown
// fields are ignored. Errors match ErrInvalidSignature.
func parseSignature(header string) (signature, error) {
	var sig signature
	if len(header) > 4096 {
		return sig, fmt.Errorf("%w: the header is too long", ErrInvalidSignature)
	}
	for field := range strings.SplitSeq(header, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return signature{}, fmt.Errorf("%w: a field has no '='", ErrInvalidSignature)
		}
		switch strings.TrimSpace(k) {
		case "t":
			if sig.Timestamp != "" {
				return signature{}, fmt.Errorf("%w: more than one t", ErrInvalidSignature)
			}
			ms, err := parseMillis(v)
			if err != nil {
				return signature{}, err
			}
			sig.Timestamp, sig.Time = v, time.UnixMilli(ms)
		case "v1":
			if len(v) != 2*sha256.Size {
				return signature{}, fmt.Errorf("%w: v1 is not %d hex digits", ErrInvalidSignature, 2*sha256.Size)
			}
			mac, err := hex.DecodeString(v)
			if err != nil {
				return signature{}, fmt.Errorf("%w: v1 is not hex", ErrInvalidSignature)
			}
			sig.V1 = append(sig.V1, mac)
		}
	}
	switch {
	case sig.Timestamp == "":
		return signature{}, fmt.Errorf("%w: no t", ErrInvalidSignature)
	case len(sig.V1) == 0:
		return signature{}, fmt.Errorf("%w: no v1", ErrInvalidSignature)
	}
	return sig, nil
}

func parseMillis(v string) (int64, error) {
	if v == "" || len(v) > 16 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%w: t is not a Unix time in milliseconds", ErrInvalidSignature)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: t is not a Unix time in milliseconds", ErrInvalidSignature)
	}
	return ms, nil
}

// String formats the signature as a WorkOS-Signature header.
func (s signature) String() string {
	var b strings.Builder
	b.WriteString("t=" + s.Timestamp)
	for _, mac := range s.V1 {
		b.WriteString(", v1=" + hex.EncodeToString(mac))
	}
	return b.String()
}

// Sign returns the WorkOS-Signature header for body sent at t, signed with
// secret: "t=<ms>, v1=<hex HMAC-SHA256 of "<ms>.<body>">". It is for
// testing a webhook route (post a body with this header and see the key
// revoked) and for relaying events.
func Sign(body []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.UnixMilli(), 10)
	return signature{Timestamp: ts, V1: [][]byte{mac(secret, ts, body)}}.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks that header is a valid WorkOS-Signature for body
// under secret (the endpoint's webhook secret, as UTF-8 bytes), made within
// tolerance of now in either direction (tolerance ≤ 0 means
// DefaultWebhookTolerance). The comparison is constant-time. Errors match
// ErrInvalidSignature, and ErrStaleSignature for a timestamp out of range;
// they never contain the secret or the body.
func VerifySignature(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: the webhook secret is empty", ErrInvalidSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sig, err := parseSignature(header)
	if err != nil {
		return err
	}
	if d := now.Sub(sig.Time); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(secret, sig.Timestamp, body)
	ok := 0
	for _, got := range sig.V1 {
		ok |= subtle.ConstantTimeCompare(got, want) // every v1 is checked
	}
	if ok == 0 {
		return fmt.Errorf("%w: no v1 matches", ErrInvalidSignature)
	}
	return nil
}
