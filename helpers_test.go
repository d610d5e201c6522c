package apikey

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Demo keys shared by the tests. Their values must never show up in a
// response, an error or a log: see TestNoKeyValueLeaks.
const (
	readerValue = "sk_test_reader_0123456789"
	writerValue = "sk_test_writer_0123456789"
	adminValue  = "sk_test_admin_0123456789"
	// limitedValue is withLimitedKey's.
	limitedValue = "sk_test_limited_0123456789"
)

var (
	readerKey = Key{ID: "key_reader", Name: "Reader", Owner: Owner{Type: "organization", ID: "org_1"}, Permissions: []string{"posts:read"}}
	writerKey = Key{ID: "key_writer", Name: "Writer", Owner: Owner{Type: "organization", ID: "org_1"}, Permissions: []string{"posts:read", "posts:write"}}
	adminKey  = Key{ID: "key_admin", Name: "Admin", Owner: Owner{Type: "user", ID: "user_1", OrganizationID: "org_1"}, Permissions: []string{"*"}}
)

func testStatic() *Static {
	s, err := NewStatic(map[string]Key{readerValue: readerKey, writerValue: writerKey, adminValue: adminKey})
	if err != nil {
		panic(err)
	}
	return s
}

// withLimitedKey returns testStatic's keys and k, a copy each time, for
// limitedValue: a key with limits or a quota, which the middleware serves
// through its limiter.
func withLimitedKey(k Key) Validator {
	static := testStatic()
	return ValidatorFunc(func(ctx context.Context, value string) (*Key, error) {
		if value == limitedValue {
			c := k
			return &c, nil
		}
		return static.Validate(ctx, value)
	})
}

func mustCache(v Validator) *Cache {
	c, err := NewCache(v)
	if err != nil {
		panic(err)
	}
	return c
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingValidator counts calls and answers through fn.
type countingValidator struct {
	calls atomic.Int64
	fn    func(ctx context.Context, value string) (*Key, error)
}

func (v *countingValidator) Validate(ctx context.Context, value string) (*Key, error) {
	v.calls.Add(1)
	return v.fn(ctx, value)
}

func counting(v Validator) *countingValidator {
	return &countingValidator{fn: v.Validate}
}
