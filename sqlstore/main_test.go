package sqlstore

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs a replica or a spender when the cross-process tests start
// this binary as one, and otherwise fails the run if any test leaves a goroutine
// behind: a Store's must all stop on Close.
func TestMain(m *testing.M) {
	if os.Getenv(envReplica) != "" {
		os.Exit(runReplica())
	}
	if os.Getenv(envSpender) != "" {
		os.Exit(runSpender())
	}
	goleak.VerifyTestMain(m)
}
