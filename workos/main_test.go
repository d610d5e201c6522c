package workos

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a
// request, retry or webhook that outlives its call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
