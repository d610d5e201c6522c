module github.com/apikeyauth/apikey

go 1.24

require github.com/hashicorp/golang-lru/v2 v2.0.7
