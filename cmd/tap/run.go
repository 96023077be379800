package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/joho/godotenv"
	"github.com/spf13/pflag"

	"github.com/tapkit/tap/config"
)

// runServer is `tap run`: load the configuration, then serve until ctx ends.
func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := pflag.NewFlagSet("tap run", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	configFile := flags.String("config", "", "YAML configuration file merged over the embedded defaults")
	printConfig := flags.Bool("print-config", false, "print the merged configuration as YAML and exit")
	config.RegisterFlags(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelpShown
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flags.Args())
	}
	// Like the reference Tap, a .env in the working directory is loaded
	// first; it never overrides variables that are already set.
	if err := godotenv.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading .env: %w", err)
	}
	loaded, err := config.Load(config.Sources{File: *configFile, Flags: flags})
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	if *printConfig {
		out, err := loaded.YAML()
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	logger := newLogger(stdout, loaded.LogLevel)
	if err := serve(ctx, &loaded.Config, logger); err != nil {
		logger.Error("exiting process", "error", err)
		return err
	}
	return nil
}

// errorLog adapts slog for http.Server's ErrorLog.
func errorLog(logger *slog.Logger) *slogWriter { return &slogWriter{logger} }

type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}
