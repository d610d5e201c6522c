package stripe

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A Counter counts every Add, however many goroutines add at once, and
// spreads them over its stripes.
func TestCounter(t *testing.T) {
	var c Counter
	assert.Zero(t, c.Load(), "the zero value")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 1000 {
				c.Add()
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 50_000, c.Load())
	assert.Greater(t, c.Used(), 1, "50 goroutines on one stripe")
}

// Add never allocates: it is on the hit path.
func TestCounterAddAllocatesNothing(t *testing.T) {
	var c Counter
	assert.Zero(t, testing.AllocsPerRun(100, c.Add))
}
