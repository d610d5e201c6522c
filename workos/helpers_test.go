package workos

import "errors"

func errorsAs(err error, target any) bool { return errors.As(err, target) }
func assertIs(err, target error) bool     { return errors.Is(err, target) }
