package redisfleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apikeyauth/apikey"
)

// TestFleetRedactsItsSecret: no fmt verb, slog handler or encoder shows the
// shared secret, in any encoding, of a Fleet or of its settings; printing a
// live Fleet while it works is no data race (run with -race).
func TestFleetRedactsItsSecret(t *testing.T) {
	secret := []byte("0123456789abcdef-the-fleet-secret-32+")
	f, err := New(&redis.Options{Addr: "127.0.0.1:1"}, WithSharedCache(time.Minute), WithSharedSecret(secret), WithLogger(discard))
	require.NoError(t, err)
	defer f.Close()
	forms := []string{string(secret), fmt.Sprintf("%x", secret), fmt.Sprintf("%X", secret), fmt.Sprint(secret), fmt.Sprintf("%q", secret)}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a live Fleet: its goroutines run while it is printed
		defer wg.Done()
		for range 100 {
			f.Hooks().Invalidation(apikey.Invalidation{ID: "key_print"})
		}
	}()
	var printed []string
	for _, v := range []any{f, f.s, &f.s, f.s.secret} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%T %v"} {
			printed = append(printed, fmt.Sprintf(verb, v))
		}
		printed = append(printed, fmt.Sprint(v), fmt.Sprintln(v))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("fleet", "fleet", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("fleet", "fleet", v)
		printed = append(printed, text.String(), js.String())
	}
	b, _ := json.Marshal(f.s.secret)
	printed = append(printed, string(b))
	wg.Wait()

	for _, p := range printed {
		for _, form := range forms {
			assert.NotContains(t, p, form)
		}
	}
	assert.Equal(t, `redisfleet.Fleet{prefix: "apikey", secret: [redacted]}`, fmt.Sprintf("%+v", f))
	var nilFleet *Fleet
	assert.Equal(t, "redisfleet.Fleet(nil)", fmt.Sprint(nilFleet))
}
