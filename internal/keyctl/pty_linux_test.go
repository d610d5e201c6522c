package keyctl

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/apikeyauth/apikey/workos/workostest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// terminal is a pseudo-terminal: the command gets the tty end as its
// stdin and stderr; the test types on, and reads the screen from, the
// other end.
type terminal struct {
	master, tty *os.File
	mu          sync.Mutex
	screen      bytes.Buffer
	done        chan struct{}
}

func openTerminal(t *testing.T) *terminal {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	var unlock int32
	require.NoError(t, ioctl(master.Fd(), syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)))
	var n uint32
	require.NoError(t, ioctl(master.Fd(), syscall.TIOCGPTN, unsafe.Pointer(&n)))
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	term := &terminal{master: master, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tty.Close()
		master.Close()
		<-term.done
	})
	return term
}

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// finish closes the tty end, once the command has exited, and returns all
// that was written to the screen: the master end reads to the end only
// when no tty end is open.
func (term *terminal) finish() string {
	term.tty.Close()
	<-term.done
	return term.text()
}

func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

// typeAfter waits for prompt on the screen, then types s.
func (term *terminal) typeAfter(t *testing.T, prompt, s string) {
	waitFor(t, "the prompt "+prompt, func() bool { return strings.Contains(term.text(), prompt) })
	_, err := term.master.Write([]byte(s))
	require.NoError(t, err)
}

func TestTerminal(t *testing.T) {
	t.Run("validate prompts without echo, and restores the terminal", func(t *testing.T) {
		srv := workostest.NewServer(t)
		k := srv.AddKey(aliceValue, "Alice", "org_1")
		term := openTerminal(t)
		before, err := termios(int(term.tty.Fd()), ioctlGetTermios, nil)
		require.NoError(t, err)
		require.NotZero(t, before.Lflag&syscall.ECHO, "the terminal echoes to begin with")

		cmd := subprocess(t, srv, "validate")
		var stdout bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = term.tty, &stdout, term.tty
		require.NoError(t, cmd.Start())
		term.typeAfter(t, "API key (not echoed): ", aliceValue+"\n")
		require.Equal(t, exitOK, exitCode(t, cmd.Wait()), term.text())
		assert.Contains(t, stdout.String(), "id           "+k.ID)
		after, err := termios(int(term.tty.Fd()), ioctlGetTermios, nil)
		require.NoError(t, err)
		assert.Equal(t, before.Lflag, after.Lflag, "the terminal's settings are restored")

		screen := term.finish()
		assert.Contains(t, screen, "API key (not echoed): \r\n", "the newline is written for the one not echoed")
		assert.NotContains(t, screen, aliceValue, "the key was echoed")
		assert.NotContains(t, screen, aliceValue[:8])
	})

	t.Run("Ctrl-C at the prompt restores the terminal and exits 2", func(t *testing.T) {
		srv := workostest.NewServer(t)
		term := openTerminal(t)
		cmd := subprocess(t, srv, "rotate")
		var stdout bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = term.tty, &stdout, term.tty
		require.NoError(t, cmd.Start())
		waitFor(t, "the prompt", func() bool { return strings.Contains(term.text(), "API key to rotate (not echoed): ") })
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		assert.Equal(t, exitUndecided, exitCode(t, cmd.Wait()))
		after, err := termios(int(term.tty.Fd()), ioctlGetTermios, nil)
		require.NoError(t, err)
		assert.NotZero(t, after.Lflag&syscall.ECHO, "echo is back on")
		assert.Contains(t, term.finish(), "apikeys rotate: interrupted\r\n")
		assert.Empty(t, stdout.String())
		assert.Empty(t, srv.Requests())
	})

	t.Run("delete asks on a terminal", func(t *testing.T) {
		for answer, want := range map[string]int{"y\n": exitOK, "yes\n": exitOK, "n\n": exitUndecided, "\n": exitUndecided} {
			srv := workostest.NewServer(t)
			k := srv.AddKey(aliceValue, "Alice", "org_1")
			term := openTerminal(t)
			cmd := subprocess(t, srv, "delete", k.ID)
			var stdout bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = term.tty, &stdout, term.tty
			require.NoError(t, cmd.Start())
			term.typeAfter(t, "Delete "+k.ID+" for good? Requests with it will fail; this cannot be undone. [y/N] ", answer)
			code := exitCode(t, cmd.Wait())
			screen := term.finish()
			assert.Equal(t, want, code, "%q: %s", answer, screen)
			got, _ := srv.Key(k.ID)
			assert.Equal(t, want == exitOK, got.Deleted, "%q", answer)
			if want == exitOK {
				assert.Equal(t, k.ID+" deleted\n", stdout.String())
			} else {
				assert.Contains(t, screen, "apikeys delete: not deleted")
				assert.Empty(t, srv.Requests())
			}
		}
	})
}
