package workos

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

func FuzzParseSignature(f *testing.F) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		Sign([]byte(revokedEvent), webhookSecret, now),
		"t=1768478400000,v1=" + "ab" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddee",
		"t=1, v1=zz", "", ",,,", "t=", "v1=", "t=1=2", "t=1, t=2", "x=y, t=5, v0=1",
		"t=99999999999999999999, v1=00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := parseSignature(header)
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error %v does not match ErrInvalidSignature", err)
			}
			return
		}
		// What parses has one t, in Unix milliseconds, and 32-byte v1s.
		ms, err := strconv.ParseInt(sig.Timestamp, 10, 64)
		if err != nil || !sig.Time.Equal(time.UnixMilli(ms)) || len(header) > 4096 {
			t.Fatalf("accepted t=%q as %v from a header of %d bytes", sig.Timestamp, sig.Time, len(header))
		}
		if len(sig.V1) == 0 || slices.ContainsFunc(sig.V1, func(m []byte) bool { return len(m) != 32 }) {
			t.Fatalf("accepted v1s %x", sig.V1)
		}
		// What parses formats to a header that parses to the same thing.
		again, err := parseSignature(sig.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", sig.String(), err)
		}
		if again.Timestamp != sig.Timestamp || !again.Time.Equal(sig.Time) ||
			!slices.EqualFunc(again.V1, sig.V1, bytes.Equal) || again.String() != sig.String() {
			t.Fatalf("round trip: %q != %q", again.String(), sig.String())
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(revokedEvent), webhookSecret, int64(1768478400000), "garbage")
	f.Add([]byte{}, "s", int64(0), "t=0, v1=00")
	f.Fuzz(func(t *testing.T, body []byte, secret string, ms int64, header string) {
		now := time.UnixMilli(ms)
		// Never panics on any header, and every refusal is an
		// ErrInvalidSignature.
		if err := VerifySignature(header, body, secret, now, 0); err != nil && !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("error %v does not match ErrInvalidSignature", err)
		}
		if secret == "" || ms < 0 || ms > 1<<50 {
			return
		}
		// A signature made now verifies, up to the tolerance on either
		// side and not a millisecond beyond; with another body or secret
		// it does not.
		h := Sign(body, secret, now)
		for _, d := range []time.Duration{0, DefaultWebhookTolerance, -DefaultWebhookTolerance} {
			if err := VerifySignature(h, body, secret, now.Add(d), 0); err != nil {
				t.Fatalf("own signature rejected %v later: %v", d, err)
			}
		}
		for _, d := range []time.Duration{DefaultWebhookTolerance + time.Millisecond, -DefaultWebhookTolerance - time.Millisecond} {
			if err := VerifySignature(h, body, secret, now.Add(d), 0); !errors.Is(err, ErrStaleSignature) {
				t.Fatalf("own signature %v later: %v, want ErrStaleSignature", d, err)
			}
		}
		if err := VerifySignature(h, append(body, 'x'), secret, now, 0); err == nil {
			t.Fatal("signature accepted for another body")
		}
		if err := VerifySignature(h, body, secret+"x", now, 0); err == nil {
			t.Fatal("signature accepted under another secret")
		}
	})
}

func FuzzDecodeValidation(f *testing.F) {
	for _, seed := range []string{fixtureValidateOrg, fixtureValidateUser, fixtureValidateSpec, fixtureValidateNull,
		`{}`, `null`, `[]`, `{"api_key":{"id":""}}`, `{"api_key":{"id":"k","expires_at":"x"}}`, `{"api_key":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, err := decodeValidation(body)
		if err != nil {
			// A body the client cannot use yields no key, never a partial one.
			if key != nil || !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("decoded (%+v, %v)", key, err)
			}
			return
		}
		if key == nil {
			// Only an explicit "api_key": null means no key.
			var top map[string]json.RawMessage
			if json.Unmarshal(body, &top) != nil || !bytes.Equal(bytes.TrimSpace(top["api_key"]), []byte("null")) {
				t.Fatalf("no key and no error for %q", body)
			}
			return
		}
		if key.ID == "" || key.Permissions == nil {
			t.Fatalf("decoded a key without an id or permissions: %+v", key)
		}
		// Round trip: the key re-encoded in the wire form decodes the same.
		w := map[string]any{
			"id": key.ID, "name": key.Name, "obfuscated_value": key.DisplayValue, "permissions": key.Permissions,
			"owner": map[string]any{"type": key.Owner.Type, "id": key.Owner.ID, "organization_id": key.Owner.OrganizationID},
		}
		if !key.ExpiresAt.IsZero() {
			w["expires_at"] = key.ExpiresAt.Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(map[string]any{"api_key": w})
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeValidation(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.ID != key.ID || again.Name != key.Name || again.Owner != key.Owner ||
			!again.ExpiresAt.Equal(key.ExpiresAt) || len(again.Permissions) != len(key.Permissions) {
			t.Fatalf("round trip: %+v != %+v", again, key)
		}
	})
}
