package main

import (
	"testing"

	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func TestRoutes(t *testing.T) {
	h, err := newMux()
	if err != nil {
		t.Fatal(err)
	}
	demo.CheckRoutes(t, h)
}

// The example is one file a user can copy into a module of their own.
func TestMainBuildsAlone(t *testing.T) { demo.CheckBuildsAlone(t) }
