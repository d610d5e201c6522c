package redisfleet

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs a child replica when the test binary is started as one
// (see TestSeparateProcesses), and otherwise the tests, failing the run if
// any leaves a goroutine behind: a Fleet's goroutines must end on Close.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}
