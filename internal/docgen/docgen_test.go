package main

import (
	"bytes"
	"go/doc"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// TestConfigurationReferenceIsCurrent keeps docs/configuration.md in step
// with the code it documents.
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	mod, err := findModule(".")
	require.NoError(t, err)
	want, err := generate(mod)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(mod.root, outputPath))
	require.NoError(t, err, "docs/configuration.md is missing: run go generate ./internal/docgen")
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/configuration.md is stale: run go generate ./internal/docgen\nfirst difference:\n%s", firstDiff(got, want))
	}
}

// firstDiff shows the first line where the committed page and the
// generated one differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + "\n  committed: " + gl + "\n  generated: " + wl
		}
	}
	return "(none)"
}

func TestRunWritesThePage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sub", "configuration.md")
	require.NoError(t, run([]string{"-out", out}))
	mod, err := findModule(".")
	require.NoError(t, err)
	want, err := generate(mod)
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	require.ErrorContains(t, run([]string{"extra"}), `unexpected arguments: ["extra"]`)
}

// TestExampleIsValid loads the page's example through config.Load and
// decodes each of its component entries as the pipeline would.
func TestExampleIsValid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tap.yaml")
	require.NoError(t, os.WriteFile(file, []byte(exampleYAML), 0o600))
	loaded, err := config.Load(config.Sources{File: file, LookupEnv: noEnv})
	require.NoError(t, err)
	f, err := factories()
	require.NoError(t, err)

	p := loaded.Pipeline
	require.Len(t, p.Sinks, 2, "the example lists two sinks")
	decode := func(path string, defaults func() any, raw map[string]any) {
		t.Helper()
		if defaults == nil {
			require.Empty(t, raw, path)
			return
		}
		cfg := defaults()
		require.NoError(t, pipeline.Decode(raw, cfg, path))
		if v, ok := cfg.(interface{ Validate() error }); ok {
			require.NoError(t, v.Validate(), path)
		}
	}
	lists := []struct {
		key      string
		entries  []pipeline.ComponentConfig
		defaults func(typ string) (func() any, bool)
	}{
		{"pipeline.sources", p.Sources, func(typ string) (func() any, bool) { fac, ok := f.Sources[typ]; return fac.CreateDefaultConfig, ok }},
		{"pipeline.stages", p.Stages, func(typ string) (func() any, bool) { fac, ok := f.Stages[typ]; return fac.CreateDefaultConfig, ok }},
		{"pipeline.sinks", p.Sinks, func(typ string) (func() any, bool) { fac, ok := f.Sinks[typ]; return fac.CreateDefaultConfig, ok }},
	}
	for _, l := range lists {
		for i, c := range l.entries {
			id, err := pipeline.ParseID(c.ID)
			require.NoError(t, err)
			defaults, ok := l.defaults(id.Type)
			require.True(t, ok, "%s[%d]: unknown type %q", l.key, i, id.Type)
			decode(l.key+"["+strconv.Itoa(i)+"].config", defaults, c.Config)
		}
	}
}

func TestCheckOptionsNamesTheUnknownKey(t *testing.T) {
	keys := []key{{path: "server.bind"}}
	require.NoError(t, checkOptions(keys, []config.Option{{Key: "server.bind", Flag: "bind"}}))
	err := checkOptions(keys, []config.Option{{Key: "server.bnid", Flag: "bind"}})
	require.EqualError(t, err, `config.Options: flag --bind sets key "server.bnid", which config.Config does not have`)
}

type undocumented struct {
	Documented int `koanf:"documented"`
	Bare       int `koanf:"bare"`
}

type untagged struct {
	Field int
}

func TestWalkStructRequiresTagsAndDocComments(t *testing.T) {
	info := &typeInfo{name: "docgen.undocumented", pkg: &doc.Package{}, fields: map[string]string{"Documented": "Documented is set.\n"}}
	_, err := walkStruct(reflect.ValueOf(undocumented{}), "x.", info, nil)
	require.EqualError(t, err, "docgen.undocumented.Bare (key x.bare) has no doc comment")

	info = &typeInfo{name: "docgen.untagged", pkg: &doc.Package{}, fields: map[string]string{"Field": "Field is set.\n"}}
	_, err = walkStruct(reflect.ValueOf(untagged{}), "", info, nil)
	require.EqualError(t, err, "docgen.untagged.Field has no koanf tag")
}

type nested struct {
	Inner inner `koanf:"inner"`
	Flag  *bool `koanf:"flag"`
}

type inner struct {
	Wait time.Duration `koanf:"wait"`
}

func TestWalkStructFlattensNestedStructs(t *testing.T) {
	pkg := &doc.Package{}
	outer := &typeInfo{name: "docgen.nested", pkg: pkg, fields: map[string]string{"Flag": "Flag overrides Inner.\n"}}
	load := func(reflect.Type) (*typeInfo, error) {
		return &typeInfo{name: "docgen.inner", pkg: pkg, fields: map[string]string{"Wait": "Wait is how long.\n"}}, nil
	}
	keys, err := walkStruct(reflect.ValueOf(nested{Inner: inner{Wait: 90 * time.Second}}), "top.", outer, load)
	require.NoError(t, err)
	require.Equal(t, []key{
		{path: "top.inner.wait", typ: "duration", def: "1m30s", doc: "`wait` is how long."},
		{path: "top.flag", typ: "bool or null", def: "null", doc: "`flag` overrides `inner`."},
	}, keys)
}

func TestFormatValue(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		in   any
		want string
	}{
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{0 * time.Second, "0s"},
		{200 * time.Millisecond, "200ms"},
		{":2480", `":2480"`},
		{[]string(nil), "[]"},
		{[]string{"a.b.*", "*"}, `["a.b.*", "*"]`},
		{map[string]any(nil), "{}"},
		{map[string]any{"z": 1, "a": "x"}, `{a: "x", z: 1}`},
		{(*bool)(nil), "null"},
		{&yes, "true"},
		{[]pipeline.ComponentConfig{{ID: "firehose"}}, `[{id: "firehose"}]`},
	} {
		require.Equal(t, tc.want, formatValue(reflect.ValueOf(tc.in)), "%#v", tc.in)
	}
}

func TestFieldMarkdownNamesKeys(t *testing.T) {
	info := &typeInfo{pkg: &doc.Package{}}
	names := map[string]string{"URL": "url", "Bind": "bind", "AdminPassword": "admin_password", "RetryMax": "retry_max"}
	for _, tc := range []struct{ in, want string }{
		{"URL is the base URL.", "`url` is the base URL."},
		{"Bind, when set, is used. Bind again.", "`bind`, when set, is used. Bind again."},
		{"Other than Bind, behind AdminPassword.", "Other than `bind`, behind `admin_password`."},
		{"Up to RetryMax; not DefaultRetryMax.", "Up to `retry_max`; not DefaultRetryMax."},
		{"Uses `code` and a_b.", "Uses `code` and a\\_b."},
	} {
		require.Equal(t, tc.want, fieldMarkdown(info, tc.in, names), tc.in)
	}
}

func TestAnchor(t *testing.T) {
	require.Equal(t, "websocket-sink", anchor("`websocket` sink"))
	require.Equal(t, "top-level", anchor("Top level"))
}
