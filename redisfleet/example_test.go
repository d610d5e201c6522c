package redisfleet_test

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/redisfleet"
)

// Every replica of a service runs this: a key revoked on any of them (here
// through the upstream's webhook or a DeleteKey that invalidates the cache)
// is refused by all of them within milliseconds. The example has no Output
// line, so it is compiled but not run: it needs a Redis.
func Example() {
	// The upstream validator: WorkOS's client, a store of your own... Here,
	// one key from the environment.
	upstream, err := apikey.NewStatic(map[string]apikey.Key{
		os.Getenv("API_KEY"): {ID: "key_ops", Name: "ops"},
	})
	if err != nil {
		log.Fatal(err)
	}
	opt, err := redis.ParseURL("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	fleet, err := redisfleet.New(opt, redisfleet.WithSharedCache(20*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer fleet.Close()
	auth, err := apikey.New(fleet.Validator(upstream), apikey.WithHooks(fleet.Hooks()))
	if err != nil {
		log.Fatal(err)
	}
	if err := fleet.Attach(auth.Cache()); err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", auth.Handler(http.NotFoundHandler())))
}
