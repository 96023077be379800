package main

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
)

// section is a heading followed by prose and a table of keys.
type section struct {
	title string
	level int
	intro []string // Markdown paragraphs
	keys  []key
	// global sections have an environment and flag column.
	global bool
}

// generate returns the configuration reference of mod.
func generate(mod module) ([]byte, error) {
	src := newSources(mod)
	global, err := globalSections(src)
	if err != nil {
		return nil, err
	}
	entry, err := entrySection(src)
	if err != nil {
		return nil, err
	}
	f, err := factories()
	if err != nil {
		return nil, err
	}
	var comps []section
	for _, c := range components(f) {
		s, err := componentSection(src, c)
		if err != nil {
			return nil, err
		}
		comps = append(comps, s)
	}

	var b bytes.Buffer
	b.WriteString(preamble)
	b.WriteString("\n## Contents\n\n")
	b.WriteString("- [Service keys](#service-keys)\n")
	for _, s := range global {
		fmt.Fprintf(&b, "  - [%s](#%s)\n", s.title, anchor(s.title))
	}
	b.WriteString("- [Components](#components)\n")
	for _, s := range comps {
		fmt.Fprintf(&b, "  - [%s](#%s)\n", s.title, anchor(s.title))
	}
	b.WriteString(serviceIntro)
	for _, s := range global {
		writeSection(&b, s, optionsByKey())
	}
	b.WriteString(componentsIntro)
	writeSection(&b, entry, nil)
	for _, s := range comps {
		writeSection(&b, s, nil)
	}
	return b.Bytes(), nil
}

// noEnv hides the process environment from config.Load: the page shows
// defaults, not this machine's settings.
func noEnv(string) (string, bool) { return "", false }

// globalSections documents config.Config with the effective defaults: one
// section for its top-level keys, then one per nested struct.
func globalSections(src *sources) ([]section, error) {
	loaded, err := config.Load(config.Sources{LookupEnv: noEnv})
	if err != nil {
		return nil, fmt.Errorf("loading the embedded defaults: %w", err)
	}
	v := reflect.ValueOf(loaded.Config)
	info, err := src.typeInfo(v.Type())
	if err != nil {
		return nil, err
	}
	keys, err := walkStruct(v, "", info, src.typeInfo)
	if err != nil {
		return nil, err
	}
	if err := checkOptions(keys, config.Options); err != nil {
		return nil, err
	}
	top := section{title: "Top level", level: 3, global: true}
	sections := []section{top}
	byRoot := map[string]int{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !isNested(f.Type) {
			continue
		}
		sub, err := src.typeInfo(f.Type)
		if err != nil {
			return nil, err
		}
		tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		byRoot[tag] = len(sections)
		sections = append(sections, section{
			title: "`" + tag + "`", level: 3, global: true,
			intro: []string{typeMarkdown(sub)},
		})
	}
	for _, k := range keys {
		root, _, nested := strings.Cut(k.path, ".")
		i := 0
		if nested {
			i = byRoot[root]
		}
		sections[i].keys = append(sections[i].keys, k)
	}
	return sections, nil
}

// checkOptions fails when an option sets a key that no struct field
// documents (a typo in config.Options, or a field renamed without it).
func checkOptions(keys []key, opts []config.Option) error {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[k.path] = true
	}
	for _, o := range opts {
		if !known[o.Key] {
			return fmt.Errorf("config.Options: flag --%s sets key %q, which config.Config does not have", o.Flag, o.Key)
		}
	}
	return nil
}

func optionsByKey() map[string]config.Option {
	m := make(map[string]config.Option, len(config.Options))
	for _, o := range config.Options {
		m[o.Key] = o
	}
	return m
}

// entrySection documents the keys of one entry of a component list.
func entrySection(src *sources) (section, error) {
	v := reflect.ValueOf(pipeline.ComponentConfig{})
	info, err := src.typeInfo(v.Type())
	if err != nil {
		return section{}, err
	}
	keys, err := walkStruct(v, "", info, src.typeInfo)
	return section{title: "Component entries", level: 3, intro: []string{typeMarkdown(info)}, keys: keys}, err
}

// typeMarkdown is a type's doc comment as Markdown, with its leading type
// name qualified and set as code ("`config.ServerConfig` is …").
func typeMarkdown(info *typeInfo) string {
	md := commentMarkdown(info, info.doc)
	_, name, _ := strings.Cut(info.name, ".")
	if rest, ok := strings.CutPrefix(md, name+" "); ok {
		md = "`" + info.name + "` " + rest
	}
	return md
}

// writeSection writes s; opts, when not nil, fills the environment and flag
// column.
func writeSection(b *bytes.Buffer, s section, opts map[string]config.Option) {
	fmt.Fprintf(b, "\n%s %s\n", strings.Repeat("#", s.level), s.title)
	for _, p := range s.intro {
		fmt.Fprintf(b, "\n%s\n", p)
	}
	if len(s.keys) == 0 {
		return
	}
	if opts != nil {
		b.WriteString("\n| Key | Type | Default | Environment, flag | Description |\n|---|---|---|---|---|\n")
	} else {
		b.WriteString("\n| Key | Type | Default | Description |\n|---|---|---|---|\n")
	}
	for _, k := range s.keys {
		fmt.Fprintf(b, "| `%s` | %s | `%s` |", k.path, k.typ, cell(k.def))
		if opts != nil {
			fmt.Fprintf(b, " %s |", setBy(opts[k.path]))
		}
		fmt.Fprintf(b, " %s |\n", cell(k.doc))
	}
}

// setBy lists the environment variables and the flag of o; "—" when the
// key is set only in YAML.
func setBy(o config.Option) string {
	var parts []string
	for _, e := range o.Env {
		parts = append(parts, "`"+e+"`")
	}
	if o.Flag != "" {
		parts = append(parts, "`--"+o.Flag+"`")
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "<br>")
}

// cell makes Markdown fit one table cell: paragraphs become line breaks,
// pipes are escaped.
func cell(md string) string {
	md = strings.ReplaceAll(md, "\n\n", "<br><br>")
	md = strings.ReplaceAll(md, "\n", " ")
	return strings.ReplaceAll(md, "|", `\|`)
}

// anchor is the id GitHub gives a heading.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
