package keyctl

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the command itself when a test starts this test binary as
// a subprocess (see runBinary); otherwise it runs the tests and fails them
// if any goroutine outlives them.
func TestMain(m *testing.M) {
	if os.Getenv("APIKEYS_TEST_RUN_MAIN") == "1" {
		Main()
		return
	}
	goleak.VerifyTestMain(m)
}
