package apikey

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A striped counter counts every add, however many goroutines add at
// once, and spreads them over its stripes.
func TestStripedCounter(t *testing.T) {
	var c stripedCounter
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.add()
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 50_000, c.load())
	used := 0
	for i := range c.stripes {
		if c.stripes[i].n.Load() > 0 {
			used++
		}
	}
	assert.Greater(t, used, 1, "50 goroutines on one stripe")
}
