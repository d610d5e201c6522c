//go:build !linux && !darwin

package keyctl

import (
	"context"
	"errors"
	"io"
	"os"
)

// terminalFd reports stdin as a terminal when it is a character device:
// on these systems the command cannot turn echo off, so it must not take a
// key from a terminal, and it must ask before deleting.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return -1, false
	}
	st, err := f.Stat()
	return int(f.Fd()), err == nil && st.Mode()&os.ModeCharDevice != 0
}

// readHidden refuses: typing a key where it would be echoed could show it
// on the screen, in a recording or over a shoulder.
func readHidden(context.Context, int, io.Reader, io.Writer, string) (string, error) {
	return "", errors.New("cannot hide what is typed on this system: pipe the key in on stdin instead (apikeys validate < keyfile)")
}
