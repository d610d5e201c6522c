package apikey_test

import (
	"fmt"
	"strings"

	"github.com/apikeyauth/apikey"
)

// Issue a key, keep only its digest, and tell a mistyped key from a real
// one without any lookup.
func ExampleKeyFormat() {
	format := apikey.KeyFormat{Prefix: "acme_live_"}
	value, err := format.Generate() // show it to its owner once
	if err != nil {
		panic(err)
	}
	digest := apikey.Hasher{}.Sum(value) // store this, never value
	_ = digest

	typo := []byte(value) // one character mistyped
	typo[20] = 'x'
	if value[20] == 'x' {
		typo[20] = 'y'
	}
	fmt.Println(len(value), strings.HasPrefix(value, "acme_live_"))
	fmt.Println(format.Check(value), format.Check(string(typo)))
	fmt.Println(strings.HasPrefix(format.DisplayValue(value), "acme_live_..."))
	// Output:
	// 52 true
	// true false
	// true
}
