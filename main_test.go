package apikey

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (the cache
// runs validations in goroutines of its own, and none may outlive its work),
// or if any line the tests logged holds a key value. A whole run must have
// logged something (the failure tests do), or the scan proved nothing.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(&capturedLogs, nil)))
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
		logs := capturedLogs.String()
		if err := keyValueIn(logs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		if logs == "" && flag.Lookup("test.run").Value.String() == "" {
			fmt.Fprintln(os.Stderr, "no log line was captured: the scan for key values proved nothing")
			code = 1
		}
	}
	os.Exit(code)
}
