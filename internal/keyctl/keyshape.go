package keyctl

import (
	"slices"
	"strings"

	"github.com/apikeyauth/apikey"
)

// workosKeyPrefix starts every WorkOS API key value and WorkOS secret key,
// and no WorkOS ID (those are api_key_…, org_…).
const workosKeyPrefix = "sk_"

// looksLikeKey reports whether s, given where an ID is expected, is shaped
// like a key value, or holds one among other text: a key pasted with
// spaces, quotes, "Bearer " or a path around it is still a key. Such an ID
// would be sent in a URL path and printed back in errors: the commands
// refuse it instead.
func (a *app) looksLikeKey(s string) bool {
	return a.isKey(s) || slices.ContainsFunc(strings.FieldsFunc(s, notInKey), a.isKey)
}

// isKey reports whether s is a WorkOS key (sk_…), a key of any
// apikey.KeyFormat (its prefix, 42 characters and a checksum that matches,
// so that an ID passes by chance once in about four billion), or a value
// this run has already read as a key.
func (a *app) isKey(s string) bool {
	if strings.HasPrefix(s, workosKeyPrefix) || slices.Contains(a.secrets, s) {
		return true
	}
	i := strings.LastIndexByte(s, '_')
	return i >= 0 && apikey.KeyFormat{Prefix: s[:i+1]}.Check(s)
}

// notInKey reports whether r is none of the characters keys are written
// with (ASCII letters, digits and '_'): where a key pasted among other
// text starts or ends.
func notInKey(r rune) bool {
	return !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}
