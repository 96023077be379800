package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/tapkit/tap/pipeline"
)

// delim separates key path segments inside koanf. It cannot appear in NSIDs,
// hosts or URLs, so component configs may use those as map keys.
const delim = "::"

// Sources are where Load reads configuration from, lowest precedence first
// (the embedded Default always comes first).
type Sources struct {
	// File is a YAML file merged over the defaults; empty means none.
	File string
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Flags are the parsed flags registered with RegisterFlags; only flags
	// given on the command line apply. Nil means none.
	Flags *pflag.FlagSet
}

// Loaded is a merged, decoded and validated configuration.
type Loaded struct {
	Config
	k *koanf.Koanf
}

// RegisterFlags adds a flag for every option to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	for _, o := range Options {
		switch o.Kind {
		case KindBool:
			fs.Bool(o.Flag, false, o.Usage)
		case KindInt:
			fs.Int(o.Flag, 0, o.Usage)
		case KindDuration:
			fs.Duration(o.Flag, 0, o.Usage)
		case KindStringList:
			fs.StringSlice(o.Flag, nil, o.Usage)
		default:
			fs.String(o.Flag, "", o.Usage)
		}
	}
}

// Load merges the embedded defaults, src.File, the environment and the
// flags, decodes the result strictly into a Config and validates it. Errors
// name the offending key, variable or flag.
func Load(src Sources) (*Loaded, error) {
	k := koanf.New(delim)
	if err := k.Load(rawbytes.Provider(Default), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("embedded config/tap.yaml: %w", err)
	}
	if src.File != "" {
		if err := k.Load(file.Provider(src.File), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", src.File, err)
		}
	}
	lookup := src.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, o := range Options {
		if err := applyEnv(k, o, lookup); err != nil {
			return nil, err
		}
		if src.Flags != nil {
			if err := applyFlag(k, o, src.Flags); err != nil {
				return nil, err
			}
		}
	}
	l := &Loaded{k: k}
	if err := pipeline.Decode(k.Raw(), &l.Config, ""); err != nil {
		where := "configuration"
		if src.File != "" {
			where = "config file " + src.File
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := l.Config.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

func koanfKey(key string) string { return strings.ReplaceAll(key, ".", delim) }

// applyEnv sets o's key from the first of its variables that is set and not
// empty.
func applyEnv(k *koanf.Koanf, o Option, lookup func(string) (string, bool)) error {
	for _, name := range o.Env {
		raw, ok := lookup(name)
		if !ok || raw == "" {
			continue
		}
		v, err := parseValue(o.Kind, raw)
		if err != nil {
			return fmt.Errorf("environment variable %s (%s): %w", name, o.Key, err)
		}
		return k.Set(koanfKey(o.Key), v)
	}
	return nil
}

func applyFlag(k *koanf.Koanf, o Option, fs *pflag.FlagSet) error {
	f := fs.Lookup(o.Flag)
	if f == nil || !f.Changed {
		return nil
	}
	var v any
	var err error
	switch o.Kind {
	case KindStringList:
		v, err = fs.GetStringSlice(o.Flag)
	default:
		v, err = parseValue(o.Kind, f.Value.String())
	}
	if err != nil {
		return fmt.Errorf("flag --%s (%s): %w", o.Flag, o.Key, err)
	}
	return k.Set(koanfKey(o.Key), v)
}

// parseValue parses a string as the reference Tap did: strconv.ParseBool,
// decimal integers, Go durations with a unit, comma-separated lists.
// Durations stay strings so that the tree prints as YAML.
func parseValue(kind Kind, raw string) (any, error) {
	switch kind {
	case KindBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid boolean %q", raw)
		}
		return b, nil
	case KindInt:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q", raw)
		}
		return n, nil
	case KindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (use a unit, e.g. \"10s\")", raw)
		}
		return d.String(), nil
	case KindStringList:
		var out []any
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return raw, nil
}
