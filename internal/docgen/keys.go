package main

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// key is one documented configuration key.
type key struct {
	// path is the key, dotted below its section's root ("server.bind").
	path string
	// typ is the value's type as a reader of YAML sees it.
	typ string
	// def is the default value in YAML flow syntax.
	def string
	// doc is the field's doc comment as Markdown.
	doc string
}

// typeLoader returns the documentation of a struct type.
type typeLoader func(reflect.Type) (*typeInfo, error)

var durationType = reflect.TypeFor[time.Duration]()

// walkStruct lists the keys of the struct v (documented by info) in field
// order, with prefix before each key. Nested structs are flattened into
// dotted keys and documented by load. Every field needs a koanf tag and
// every key a doc comment.
func walkStruct(v reflect.Value, prefix string, info *typeInfo, load typeLoader) ([]key, error) {
	var keys []key
	t := v.Type()
	names := fieldKeys(t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		switch tag {
		case "-":
			continue
		case "":
			return nil, fmt.Errorf("%s.%s has no koanf tag", info.name, f.Name)
		}
		path := prefix + tag
		if isNested(f.Type) {
			sub, err := load(f.Type)
			if err != nil {
				return nil, err
			}
			nested, err := walkStruct(v.Field(i), path+".", sub, load)
			if err != nil {
				return nil, err
			}
			keys = append(keys, nested...)
			continue
		}
		text := info.fields[f.Name]
		if strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("%s.%s (key %s) has no doc comment", info.name, f.Name, path)
		}
		keys = append(keys, key{
			path: path,
			typ:  typeName(f.Type),
			def:  formatValue(v.Field(i)),
			doc:  fieldMarkdown(info, text, names),
		})
	}
	return keys, nil
}

// isNested reports whether a field of type t is a section of keys rather
// than one value.
func isNested(t reflect.Type) bool { return t.Kind() == reflect.Struct }

// typeName names t as it is written in YAML.
func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem()) + " or null"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of maps"
		}
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "map"
	case reflect.Interface:
		return "any"
	}
	return t.String()
}

// formatValue writes v in YAML flow syntax: durations with their largest
// units ("5m"), strings quoted, nil as null, empty lists and maps as [] and
// {}, structs with their non-zero keys only.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return formatValue(v.Elem())
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		parts := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			parts = append(parts, fmt.Sprint(k.Interface())+": "+formatValue(v.MapIndex(k)))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Struct:
		var parts []string
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("koanf"), ",")
			if tag == "" || tag == "-" || v.Field(i).IsZero() {
				continue
			}
			parts = append(parts, tag+": "+formatValue(v.Field(i)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration is d.String() without zero trailing units: "5m", not
// "5m0s"; "1h", not "1h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// fieldKeys maps the Go names of t's fields to their keys.
func fieldKeys(t reflect.Type) map[string]string {
	m := make(map[string]string)
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("koanf"), ","); tag != "" && tag != "-" {
			m[t.Field(i).Name] = tag
		}
	}
	return m
}

// fieldMarkdown turns a field's doc comment into Markdown in which the Go
// names of the struct's fields read as their keys ("RetryMax" becomes
// "`retry_max`"): the comment's first word, any name of several words
// ("AdminPassword"), and a one-word name ("Bind") where it cannot start a
// sentence. All-capital names ("URL") are ordinary words after the first.
func fieldMarkdown(info *typeInfo, text string, names map[string]string) string {
	md := commentMarkdown(info, text)
	alts := make([]string, 0, len(names))
	for name := range names {
		alts = append(alts, regexp.QuoteMeta(name))
	}
	if len(alts) == 0 {
		return md
	}
	sort.Strings(alts)
	re := regexp.MustCompile(`\b(?:` + strings.Join(alts, "|") + `)\b`)
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringIndex(md, -1) {
		name := md[m[0]:m[1]]
		allCaps := strings.ToUpper(name) == name
		if m[0] > 0 && (allCaps || !severalWords(name) && sentenceStart(md[:m[0]])) {
			continue
		}
		b.WriteString(md[last:m[0]])
		b.WriteString("`" + names[name] + "`")
		last = m[1]
	}
	b.WriteString(md[last:])
	return b.String()
}

// severalWords reports whether a Go name joins several words
// ("AdminPassword", "DNSResolver").
func severalWords(name string) bool {
	upper := 0
	for _, r := range name {
		if unicode.IsUpper(r) {
			upper++
		}
	}
	return upper > 1 && strings.ToUpper(name) != name
}

// sentenceStart reports whether a word after before starts a sentence.
func sentenceStart(before string) bool {
	before = strings.TrimRight(before, " \n")
	return before == "" || strings.HasSuffix(before, ".") || strings.HasSuffix(before, ":") ||
		strings.HasSuffix(before, "!") || strings.HasSuffix(before, "?")
}

// commentMarkdown converts a doc comment to Markdown with the declaring
// package's parser and printer.
func commentMarkdown(info *typeInfo, text string) string {
	d := info.pkg.Parser().Parse(text)
	md := strings.TrimSpace(string(info.pkg.Printer().Markdown(d)))
	// Doc comments here mark code with backticks, which the printer
	// escapes; let them be code spans.
	return strings.ReplaceAll(md, "\\`", "`")
}
