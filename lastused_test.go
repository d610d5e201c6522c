package apikey

import (
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLastUsedRecordsEveryAuthenticatedRequest(t *testing.T) {
	clock := newFakeClock()
	used, err := NewLastUsed(0)
	require.NoError(t, err)
	used.now = clock.Now
	validator := counting(testStatic())
	m, err := New(validator, WithHooks(used.Hooks()), WithClock(clock.Now), WithCacheTTL(time.Hour))
	require.NoError(t, err)
	h := m.Handler(okHandler)

	start := clock.Now()
	h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue))
	clock.Advance(10 * time.Minute)
	h.ServeHTTP(httptest.NewRecorder(), keyRequest(writerValue)) // a cache hit: the store never hears of it
	h.ServeHTTP(httptest.NewRecorder(), keyRequest(unknownValue))
	h.ServeHTTP(httptest.NewRecorder(), keyRequest())

	require.EqualValues(t, 2, validator.calls.Load(), "the second request was a hit")
	got, ok := used.Get(writerKey.ID)
	require.True(t, ok)
	assert.True(t, got.Equal(start.Add(10*time.Minute)), got)
	_, ok = used.Get(readerKey.ID)
	assert.False(t, ok)
	assert.Equal(t, map[string]time.Time{writerKey.ID: got}, maps.Collect(used.All()))
}

func TestLastUsedRecord(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	used, err := NewLastUsed(2)
	require.NoError(t, err)
	get := func(id string) time.Time { t, _ := used.Get(id); return t }

	used.Record("a", t0)
	used.Record("a", t0.Add(500*time.Millisecond))
	assert.True(t, get("a").Equal(t0), "within the resolution: not written")
	used.Record("a", t0.Add(-time.Hour))
	assert.True(t, get("a").Equal(t0), "an earlier time never replaces a later one")
	used.Record("a", t0.Add(2*time.Second))
	assert.True(t, get("a").Equal(t0.Add(2*time.Second)))

	used.Record("b", t0)
	used.Record("a", t0.Add(time.Minute)) // a is now the most recent
	used.Record("c", t0)
	assert.Equal(t, 2, used.Len(), "bounded")
	_, ok := used.Get("b")
	assert.False(t, ok, "the least recently used went first")
	var order []string
	for id := range used.All() {
		order = append(order, id)
	}
	assert.Equal(t, []string{"a", "c"}, order)
}

func TestNewLastUsedRejectsNegative(t *testing.T) {
	_, err := NewLastUsed(-1)
	assert.ErrorIs(t, err, ErrMisconfigured)
}
