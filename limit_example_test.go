package apikey_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/apikeyauth/apikey"
)

// A key with a rate limit, and a route that costs more than others: the
// third request of cost 2 finds too little left, and is refused with 429.
func ExampleMiddleware_Cost() {
	keys, err := apikey.NewStatic(map[string]apikey.Key{
		"sk_example_limited": {ID: "key_1", Limits: []apikey.Limit{{Rate: 5, Period: time.Hour}}},
	})
	if err != nil {
		panic(err)
	}
	auth, err := apikey.New(keys)
	if err != nil {
		panic(err)
	}
	report := auth.Cost(2)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "report")
	}))
	for range 3 {
		r := httptest.NewRequest("POST", "/reports", nil)
		r.Header.Set("Authorization", "Bearer sk_example_limited")
		w := httptest.NewRecorder()
		report.ServeHTTP(w, r)
		fmt.Printf("%d RateLimit: %s Retry-After: %q\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 RateLimit: "default";r=3;t=1440 Retry-After: ""
	// 200 RateLimit: "default";r=1;t=2880 Retry-After: ""
	// 429 RateLimit: "default";r=1;t=720 Retry-After: "720"
}
