package demo

import (
	"flag"
	"log"
	"net/http"
	"time"
)

// Main is the examples' main: it reads -addr, builds the handler and
// serves it, and exits with the error when building or serving fails.
func Main(build func() (http.Handler, error)) {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	handler, err := build()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on http://%s (demo keys: sk_demo_reader, sk_demo_writer)", *addr)
	log.Fatal(srv.ListenAndServe())
}
