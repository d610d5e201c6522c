package workos

import (
	"errors"
	"net/url"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }
func assertIs(err, target error) bool     { return errors.Is(err, target) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
