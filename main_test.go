package apikey

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: the cache
// runs validations in goroutines of its own, and none may outlive its work.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
