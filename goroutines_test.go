package apikey

import (
	"runtime"
	"strings"
)

// goroutineStacks returns the stack of every live goroutine by its ID, as
// runtime.Stack prints them. Tests count goroutines with it rather than
// with runtime.NumGoroutine, which also counts those other tests left
// exiting and which may end between two counts.
func goroutineStacks() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := make(map[string]string)
	for _, s := range strings.Split(string(buf), "\n\n") {
		// "goroutine 18 [chan receive]:\n..."
		if f := strings.Fields(s); len(f) > 1 && f[0] == "goroutine" {
			stacks[f[1]] = s
		}
	}
	return stacks
}

// newGoroutines counts the goroutines live in after that were not in
// before and whose stack, or the function that started them, holds what.
func newGoroutines(before, after map[string]string, what string) int {
	n := 0
	for id, s := range after {
		if _, ok := before[id]; !ok && strings.Contains(s, what) {
			n++
		}
	}
	return n
}
