package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version string

// Version returns tap's version: the one set at build time, else the main
// module's version and VCS revision from the build info, else "dev".
var Version = sync.OnceValue(func() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if len(s.Value) > 12 {
				v += "+" + s.Value[:12]
			} else {
				v += "+" + s.Value
			}
		case "vcs.modified":
			if s.Value == "true" {
				v += "-dirty"
			}
		}
	}
	return v
})

// buildInfo is what `tap --version` prints after the version line: the Go
// toolchain and platform, and the VCS revision and time the binary was
// built from, when the build recorded them.
func buildInfo() []string {
	lines := []string{"go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return lines
	}
	var rev, at, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", with uncommitted changes"
			}
		}
	}
	if rev != "" {
		lines = append(lines, "commit: "+rev+" ("+at+modified+")")
	}
	lines = append(lines, "module: "+info.Main.Path)
	return lines
}

// printVersion writes the version line ("tap VERSION", stable for scripts)
// and the build information.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "tap %s\n", Version())
	for _, l := range buildInfo() {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
