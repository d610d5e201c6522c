// Command wrkserver serves the quick start's GET /posts twice, once behind
// the middleware and once bare, so that a load tool can compare the two
// side by side (see BENCHMARKS.md). It is not an example: it exists only to
// be measured.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/apikeyauth/apikey"
	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func main() {
	bareAddr := flag.String("bare", "127.0.0.1:18081", "address of the server without authentication")
	authAddr := flag.String("auth", "127.0.0.1:18082", "address of the server with authentication")
	flag.Parse()

	keys, err := apikey.NewStatic(demo.Keys)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := apikey.New(keys)
	if err != nil {
		log.Fatal(err)
	}
	var posts demo.Store
	list := http.HandlerFunc(posts.List)
	go func() { log.Fatal(http.ListenAndServe(*bareAddr, list)) }()
	log.Fatal(http.ListenAndServe(*authAddr, auth.Handler(apikey.RequirePermission("posts:read")(list))))
}
