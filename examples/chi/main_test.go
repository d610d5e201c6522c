package main

import (
	"testing"

	"github.com/apikeyauth/apikey/examples/internal/demo"
)

func TestRoutes(t *testing.T) {
	h, err := newRouter()
	if err != nil {
		t.Fatal(err)
	}
	demo.CheckRoutes(t, h)
}
