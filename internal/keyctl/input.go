package keyctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxKeyInput bounds what is read as one key value.
const maxKeyInput = 4 << 10

// readKey reads one key value: from a hidden prompt when stdin is a
// terminal, otherwise from stdin, where it must be the only line. The
// value is never echoed and never put in an error.
func (a *app) readKey(ctx context.Context, prompt string) (string, error) {
	var line string
	var err error
	if fd, ok := terminalFd(a.stdin); ok {
		line, err = readHidden(ctx, fd, a.stdin, a.stderr, prompt)
	} else {
		line, err = readCtx(ctx, func() (string, error) {
			b, err := io.ReadAll(io.LimitReader(a.stdin, maxKeyInput+1))
			if len(b) > maxKeyInput {
				return "", fmt.Errorf("stdin holds more than %d bytes: give one key", maxKeyInput)
			}
			return string(b), err
		})
	}
	if err != nil {
		return "", err
	}
	value := strings.TrimSpace(line)
	a.noteSecret(value)
	switch {
	case value == "":
		return "", errors.New("no key given: pipe it in on stdin, or run on a terminal to be prompted")
	case strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "", errors.New("the input holds spaces, control characters or several lines: give one key")
	}
	return value, nil
}

// confirm asks a yes/no question on the terminal; only "y" or "yes" is
// yes. It must only be called when stdin is a terminal.
func (a *app) confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprint(a.stderr, question+" [y/N] ")
	answer, err := readCtx(ctx, func() (string, error) {
		return bufio.NewReader(io.LimitReader(a.stdin, 256)).ReadString('\n')
	})
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readCtx runs read, but returns as soon as ctx ends (Ctrl-C), leaving the
// read behind: the process is about to exit.
func readCtx(ctx context.Context, read func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := read()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
