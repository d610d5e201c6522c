package sqlstore

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// quotaCredits sizes TestSpendAcrossProcesses. BENCHMARKS.md's figure is
// the run with -quota-credits=10000.
var quotaCredits = flag.Int64("quota-credits", 400, "credits that TestSpendAcrossProcesses spends from 2 processes × 8 goroutines")

// The environment that makes this test binary a spender (see TestMain).
const (
	envSpender    = "SQLSTORE_TEST_SPENDER_DSN"
	envSpenderKey = "SQLSTORE_TEST_SPENDER_KEY"
	spenders      = 8 // goroutines per process
)

// runSpender is another process spending from one key's quota: it writes
// "ready", waits for a line on stdin, then spends 1 credit at a time from
// spenders goroutines, each until its first refusal, and writes
// "admitted N refused N errors N micros N".
func runSpender() int {
	ctx := context.Background()
	store, err := Open(ctx, os.Getenv(envSpender), WithKeyFormat(testFormat))
	if err != nil {
		fmt.Fprintln(os.Stderr, "spender:", err)
		return 2
	}
	defer store.Close()
	key := &apikey.Key{ID: os.Getenv(envSpenderKey), Quota: &apikey.Quota{}}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	var admitted, refused, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range spenders {
		wg.Go(func() {
			for {
				d, err := store.Spend(ctx, key, 1)
				switch {
				case err != nil:
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "spender:", err)
					if failed.Load() > 100 {
						return
					}
				case d.Allowed:
					admitted.Add(1)
				default:
					refused.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("admitted %d refused %d errors %d micros %d\n", admitted.Load(), refused.Load(), failed.Load(), time.Since(start).Microseconds())
	return 0
}

// Two processes of eight goroutines each spend a key's credits on one
// database: exactly as many are admitted as there were, none is lost (the
// count ends at 0) and none fails. With -quota-credits=10000 -v it is the
// load run whose figures BENCHMARKS.md quotes.
func TestSpendAcrossProcesses(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn)
			credits := *quotaCredits
			k, _, err := s.Create(ctx, NewKey{Name: "k", Owner: apikey.Owner{ID: "org_1"}, Quota: &apikey.Quota{Remaining: credits}})
			require.NoError(t, err)

			type child struct {
				cmd *exec.Cmd
				in  io.WriteCloser
				out *bufio.Scanner
			}
			var children []child
			for range 2 {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envSpender+"="+dsn, envSpenderKey+"="+k.ID)
				cmd.Stderr = os.Stderr
				in, err := cmd.StdinPipe()
				require.NoError(t, err)
				stdout, err := cmd.StdoutPipe()
				require.NoError(t, err)
				require.NoError(t, cmd.Start())
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				out := bufio.NewScanner(stdout)
				require.True(t, out.Scan(), "the spender started")
				require.Equal(t, "ready", out.Text())
				children = append(children, child{cmd, in, out})
			}
			for _, c := range children {
				_, err := io.WriteString(c.in, "go\n")
				require.NoError(t, err)
			}
			var admitted, slowest int64
			for i, c := range children {
				require.True(t, c.out.Scan(), "spender %d answered", i)
				var a, r, e, us int64
				_, err := fmt.Sscanf(c.out.Text(), "admitted %d refused %d errors %d micros %d", &a, &r, &e, &us)
				require.NoError(t, err, c.out.Text())
				assert.Zero(t, e, "spender %d met errors", i)
				assert.Equal(t, int64(spenders), r, "each goroutine of spender %d ends at its one refusal", i)
				assert.NoError(t, c.cmd.Wait())
				t.Logf("spender %d: %d admitted in %v", i, a, time.Duration(us)*time.Microsecond)
				admitted += a
				slowest = max(slowest, us)
			}
			assert.Equal(t, credits, admitted, "admitted exactly the credits there were")
			got, err := s.Get(ctx, k.ID)
			require.NoError(t, err)
			assert.Equal(t, int64(0), got.Quota.Remaining)
			t.Logf("%s: 2 processes × %d goroutines: %d of %d credits admitted, %.0f spends/s", b.name, spenders,
				admitted, credits, float64(admitted)/(float64(slowest)/1e6))
		})
	}
}
