package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apikeyauth/apikey"
)

// limitsInput is what an admin route reads of a key's rate limits and
// quota, on creation and on update:
//
//	"rate_limit": {"limit": 5, "period": "1s"}          one limit, named "default"
//	"limits": [{"name": "search", "limit": 10, "period": "1s", "burst": 20, "scope": "owner"}, …]
//	"quota": {"remaining": 100, "refill": {"amount": 100, "interval": "24h"}}
//	"quota": {"remaining": 100, "refill": {"amount": 100, "interval": "monthly", "day": 1}}
//
// "rate_limit" is short for a "limits" of one; a body has one or the other.
// "limits": [] removes the limits and "quota": null the quota; a field left
// out leaves them as they are. A limit's name, burst and scope are
// optional; a quota's refill too, which is every interval or monthly on a
// day (1 to 31, at 00:00 UTC; a shorter month refills on its last day).
type limitsInput struct {
	Limits    *[]apikey.Limit `json:"limits"`
	RateLimit *apikey.Limit   `json:"rate_limit"`
	Quota     json.RawMessage `json:"quota"`
}

// limitsShape is the shape of limitsInput, for error messages.
const limitsShape = `"rate_limit": {"limit": 5, "period": "1s"} or "limits": [{"name": "default", "limit": 5, "period": "1s"}], ` +
	`and "quota": {"remaining": 100, "refill": {"amount": 100, "interval": "24h"}} ` +
	`(or "refill": {"amount": 100, "interval": "monthly", "day": 1})`

// limits returns the limits the input sets, and whether it sets any.
func (in limitsInput) limits() ([]apikey.Limit, bool, error) {
	switch {
	case in.Limits != nil && in.RateLimit != nil:
		return nil, false, errors.New(`give "rate_limit" or "limits", not both`)
	case in.RateLimit != nil:
		return []apikey.Limit{*in.RateLimit}, true, nil
	case in.Limits != nil:
		return *in.Limits, true, nil
	}
	return nil, false, nil
}

// quota returns the quota the input sets (nil to remove it), and whether
// it sets one.
func (in limitsInput) quota() (*apikey.Quota, bool, error) {
	if in.Quota == nil {
		return nil, false, nil
	}
	// Quota reads strictly and validates itself: checked here, before
	// anything is written, so that an update that sets the limits too
	// does not set them and then fail on the quota.
	var q *apikey.Quota
	if err := json.Unmarshal(in.Quota, &q); err != nil {
		if errors.Is(err, apikey.ErrMisconfigured) {
			msg := strings.TrimPrefix(err.Error(), "apikey: ")
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, "Quota: "), "Refill: ")
			return nil, false, errors.New(`"quota": ` + msg)
		}
		return nil, false, fmt.Errorf(`"quota" must be null or {"remaining": 100, "refill": {"amount": 100, "interval": "24h"}}, ` +
			`the refill optional, or monthly: {"amount": 100, "interval": "monthly", "day": 1}`)
	}
	return q, true, nil
}
