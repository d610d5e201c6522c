package demo

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rootModule is the module path of the library the examples use.
const rootModule = "github.com/apikeyauth/apikey"

// CheckBuildsAlone proves that the example's main.go, copied alone into a
// new module outside the repository, builds: the new module requires the
// library at its release version, replaced by this clone, and nothing else.
// It runs offline (GOPROXY=off): whatever the file imports beyond the
// library must already be in the library's own requirements, as chi is.
// The examples' tests call it from their package directory.
func CheckBuildsAlone(t *testing.T) {
	t.Helper()
	root := findRoot(t)
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/copied\n\ngo 1.25.0\n\nrequire " + rootModule + " v0.1.0\n\nreplace " + rootModule + " v0.1.0 => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"main.go": src, "go.mod": []byte(goMod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", os.DevNull, "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("main.go copied alone into a new module: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// findRoot returns the directory of the library's go.mod, above the
// current one.
func findRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			if strings.TrimSpace(line) == "module "+rootModule {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the test's directory", rootModule)
		}
		dir = parent
	}
}
