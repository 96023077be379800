package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// Decode decodes raw (a tree of maps, lists and scalars as parsed from YAML)
// into the struct pointed to by out, using `koanf` field tags. It is strict:
// unknown keys and values of the wrong type are errors that name the key
// path, prefixed with path. Durations are written as Go durations ("10s");
// a bare number is rejected rather than read as nanoseconds.
func Decode(raw map[string]any, out any, path string) error {
	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:          "koanf",
		ErrorUnused:      true,
		Metadata:         &md,
		Result:           out,
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(durationHook),
		WeaklyTypedInput: false,
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(raw); err != nil {
		return errors.New(prefixKeys(err.Error(), path, reflect.TypeOf(out).Elem().String()))
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// durationHook parses duration strings and refuses anything else for a
// time.Duration field (mapstructure would take 10 as 10ns).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (use a unit, e.g. \"10s\")", v)
		}
		return d, nil
	case time.Duration:
		return v, nil
	default:
		return nil, fmt.Errorf("invalid duration %v: write it as a string with a unit, e.g. \"10s\"", v)
	}
}

// prefixKeys rewrites mapstructure's messages into one line per problem,
// with every key path rooted at path ("unknown key \"a.b\"").
func prefixKeys(msg, path, rootType string) string {
	msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s):\n\n")
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "'"), "' ")
		if !ok {
			out = append(out, line)
			continue
		}
		if name == rootType {
			name = ""
		}
		full := joinKey(path, name)
		if keys, ok := strings.CutPrefix(rest, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				out = append(out, fmt.Sprintf("unknown key %q", joinKey(full, k)))
			}
			continue
		}
		out = append(out, fmt.Sprintf("%q: %s", full, rest))
	}
	return strings.Join(out, "; ")
}

func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}
