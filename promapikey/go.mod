module github.com/apikeyauth/apikey/promapikey

go 1.25.0

require github.com/apikeyauth/apikey v0.0.0-00010101000000-000000000000

require github.com/prometheus/client_golang v1.24.1 // indirect

replace github.com/apikeyauth/apikey => ../
