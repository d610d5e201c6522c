// Command modproxy builds a file-system Go module proxy from a copy of the
// repository, at a version that is not tagged yet, so that CI and the
// release script can install every module as a user would before the tags
// exist. With -gosum it also writes, into each module's go.sum, the hashes
// of the repository's modules it requires at that version: go install
// pkg@version reads only the installed module's go.sum.
//
// Usage, from the root of a copy holding only the tracked files (the
// module zips take every file they find, as CreateFromDir does):
//
//	modproxy -version v0.2.0 -out /tmp/proxy [-gosum] . redisfleet sqlstore ...
//
// then GOPROXY=file:///tmp/proxy,https://proxy.golang.org and
// GONOSUMDB=github.com/apikeyauth/apikey for the go command.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"
)

func main() {
	version := flag.String("version", "", "the version to publish every module at, as vX.Y.Z (required)")
	out := flag.String("out", "", "the proxy's folder, created if missing (required)")
	gosum := flag.Bool("gosum", false, "also write the hashes of the modules published here into the go.sum of every module in go.work that requires them")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: modproxy -version vX.Y.Z -out DIR [-gosum] MODULE-FOLDER...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*version, *out, *gosum, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(version, out string, gosum bool, dirs []string) error {
	if version == "" || out == "" || len(dirs) == 0 {
		return errors.New("-version, -out and at least one module folder are required")
	}
	if !semver.IsValid(version) || semver.Canonical(version) != version || semver.Build(version) != "" {
		return fmt.Errorf("version %q is not a canonical semantic version such as v1.2.3", version)
	}
	mods := make([]mod, 0, len(dirs))
	for _, dir := range dirs {
		m, err := readMod(dir)
		if err != nil {
			return err
		}
		mods = append(mods, m)
	}
	sumDirs := dirs
	if gosum {
		var err error
		if sumDirs, err = workspaceDirs(); err != nil {
			return err
		}
	}
	// A module's hash covers its go.sum, which holds the hashes of the
	// modules it requires: publish and rewrite until nothing moves (as many
	// rounds as the longest chain of requirements, plus one).
	for round := 0; ; round++ {
		if round > len(mods)+1 {
			return errors.New("the go.sum files do not settle: do the modules require each other in a cycle?")
		}
		sums := map[string][2]string{}
		for _, m := range mods {
			h, err := publish(m, version, out)
			if err != nil {
				return err
			}
			sums[m.path] = h
		}
		if !gosum {
			return nil
		}
		changed := false
		for _, dir := range sumDirs {
			c, err := writeSums(dir, version, sums)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		if !changed {
			return nil
		}
	}
}

type mod struct {
	dir, path string
	goMod     []byte
}

func readMod(dir string) (mod, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return mod{}, err
	}
	path := modfile.ModulePath(data)
	if path == "" {
		return mod{}, fmt.Errorf("%s/go.mod names no module", dir)
	}
	return mod{dir: dir, path: path, goMod: data}, nil
}

// publish writes m's list, .info, .mod and .zip into the proxy and returns
// the go.sum hashes of its zip and of its go.mod.
func publish(m mod, version, out string) ([2]string, error) {
	escaped, err := module.EscapePath(m.path)
	if err != nil {
		return [2]string{}, err
	}
	vdir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return [2]string{}, err
	}
	// go.mod is reread: an earlier round may have changed its go.sum, not
	// its go.mod, but the zip is made from the folder as it is now.
	if m, err = readMod(m.dir); err != nil {
		return [2]string{}, err
	}
	zipPath := filepath.Join(vdir, version+".zip")
	f, err := os.Create(zipPath)
	if err != nil {
		return [2]string{}, err
	}
	if err := zip.CreateFromDir(f, module.Version{Path: m.path, Version: version}, m.dir); err != nil {
		f.Close()
		return [2]string{}, fmt.Errorf("%s: %w", m.path, err)
	}
	if err := f.Close(); err != nil {
		return [2]string{}, err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return [2]string{}, err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644); err != nil {
		return [2]string{}, err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), m.goMod, 0o644); err != nil {
		return [2]string{}, err
	}
	if err := addToList(filepath.Join(vdir, "list"), version); err != nil {
		return [2]string{}, err
	}
	zipHash, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return [2]string{}, err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(m.goMod)), nil
	})
	if err != nil {
		return [2]string{}, err
	}
	return [2]string{zipHash, modHash}, nil
}

func addToList(path, version string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	versions := strings.Fields(string(data))
	if slices.Contains(versions, version) {
		return nil
	}
	versions = append(versions, version)
	semver.Sort(versions)
	return os.WriteFile(path, []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

// workspaceDirs reads go.work's use list: the modules whose go.sum may
// require a module published here.
func workspaceDirs() ([]string, error) {
	data, err := os.ReadFile("go.work")
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(wf.Use))
	for _, u := range wf.Use {
		dirs = append(dirs, u.Path)
	}
	return dirs, nil
}

// writeSums sets, in dir's go.sum, the hashes of every published module
// that dir's go.mod requires at version, drops that module's lines at other
// versions, and reports whether the file changed.
func writeSums(dir, version string, sums map[string][2]string) (bool, error) {
	m, err := readMod(dir)
	if err != nil {
		return false, err
	}
	f, err := modfile.ParseLax(filepath.Join(dir, "go.mod"), m.goMod, nil)
	if err != nil {
		return false, err
	}
	want := map[string][2]string{}
	for _, r := range f.Require {
		h, ok := sums[r.Mod.Path]
		if !ok || r.Mod.Path == m.path {
			continue
		}
		if r.Mod.Version != version {
			return false, fmt.Errorf("%s/go.mod requires %s %s, not %s: set every version first", dir, r.Mod.Path, r.Mod.Version, version)
		}
		want[r.Mod.Path] = h
	}
	sumPath := filepath.Join(dir, "go.sum")
	old, err := os.ReadFile(sumPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	type line struct {
		mod  module.Version
		hash string
	}
	var lines []line
	for _, l := range strings.Split(string(old), "\n") {
		fields := strings.Fields(l)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return false, fmt.Errorf("%s: malformed line %q", sumPath, l)
		}
		if _, ours := sums[fields[0]]; ours {
			continue // every line of a published module is written afresh below
		}
		lines = append(lines, line{module.Version{Path: fields[0], Version: fields[1]}, fields[2]})
	}
	for path, h := range want {
		lines = append(lines,
			line{module.Version{Path: path, Version: version}, h[0]},
			line{module.Version{Path: path, Version: version + "/go.mod"}, h[1]})
	}
	mods := make([]module.Version, len(lines))
	hashes := map[module.Version]string{}
	for i, l := range lines {
		mods[i] = l.mod
		hashes[l.mod] = l.hash
	}
	module.Sort(mods) // the order the go command writes
	var b strings.Builder
	for _, mv := range mods {
		fmt.Fprintf(&b, "%s %s %s\n", mv.Path, mv.Version, hashes[mv])
	}
	if b.String() == string(old) {
		return false, nil
	}
	return true, os.WriteFile(sumPath, []byte(b.String()), 0o644)
}
