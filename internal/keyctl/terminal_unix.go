//go:build linux || darwin

package keyctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// terminalFd returns stdin's file descriptor when it is a terminal.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	_, err := termios(fd, ioctlGetTermios, nil)
	return fd, err == nil
}

// readHidden prompts on w and reads a line from the terminal fd with echo
// off, restoring the terminal however the read ends (Ctrl-C included).
func readHidden(ctx context.Context, fd int, r io.Reader, w io.Writer, prompt string) (string, error) {
	saved, err := termios(fd, ioctlGetTermios, nil)
	if err != nil {
		return "", fmt.Errorf("reading the terminal's settings: %w", err)
	}
	hidden := *saved
	hidden.Lflag &^= syscall.ECHO
	hidden.Lflag |= syscall.ICANON | syscall.ISIG
	if _, err := termios(fd, ioctlSetTermios, &hidden); err != nil {
		return "", fmt.Errorf("turning echo off: %w", err)
	}
	defer func() {
		_, _ = termios(fd, ioctlSetTermios, saved)
		fmt.Fprintln(w) // the newline the user typed was not echoed
	}()
	fmt.Fprint(w, prompt)
	return readCtx(ctx, func() (string, error) { return readLine(r) })
}

// readLine reads up to a newline, byte by byte so that nothing after it is
// consumed, and never more than maxKeyInput bytes.
func readLine(r io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for len(b) <= maxKeyInput {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return string(b), nil
			}
			b = append(b, c[0])
		}
		if err == io.EOF {
			return string(b), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("the line is longer than %d bytes: give one key", maxKeyInput)
}

// termios gets (set nil) or sets the terminal settings of fd.
func termios(fd int, req uintptr, set *syscall.Termios) (*syscall.Termios, error) {
	t := set
	if t == nil {
		t = new(syscall.Termios)
	}
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(t)))
	if errno != 0 {
		return nil, errno
	}
	return t, nil
}
