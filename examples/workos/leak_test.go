package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a replica's
// fleet must stop its own when the app is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
