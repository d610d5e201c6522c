package apikey

import "context"

// Enrich returns a Validator that validates with v, then hands a copy of
// each key v returns to enrich, which may set what v's store does not
// hold: limits and a quota by organization or plan, for keys that carry
// none (WorkOS keys have no metadata). The copy is what the cache keeps
// and the handlers see; v's own key is never changed. enrich is called
// once per validation (not per request, behind a cache), must be safe for
// concurrent use, and must not change the slices or maps the copy shares
// with v's key (Permissions, Metadata): give it new ones instead. Errors
// pass through untouched. A nil v or enrich gives a nil Validator, which
// New refuses.
func Enrich(v Validator, enrich func(*Key)) Validator {
	if v == nil || enrich == nil {
		return nil
	}
	return ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		k, err := v.Validate(ctx, value)
		if err != nil || k == nil {
			return k, err
		}
		c := *k
		enrich(&c)
		return &c, nil
	})
}
