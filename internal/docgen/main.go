// Command docgen writes docs/configuration.md, the configuration reference,
// from the sources of truth: the configuration structs (their koanf tags and
// doc comments), the embedded defaults (config/tap.yaml, loaded through
// config.Load), the flags and environment variables of config.Options, and
// the default configuration of every component type.
//
// Run it after changing any of them:
//
//	go generate ./internal/docgen
//
// A test fails while the committed page differs from what docgen writes.
package main

//go:generate go run . -out ../../docs/configuration.md

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// outputPath is where the page lives, relative to the module root.
const outputPath = "docs/configuration.md"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

// run parses the flags, generates the page and writes it.
func run(args []string) error {
	fs := flag.NewFlagSet("docgen", flag.ContinueOnError)
	out := fs.String("out", "", "file to write (default: "+outputPath+" of the module)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	mod, err := findModule(".")
	if err != nil {
		return err
	}
	page, err := generate(mod)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(mod.root, outputPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, page, 0o644)
}
