package main

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"

	registry "github.com/tapkit/tap/internal/components"
	"github.com/tapkit/tap/pipeline"
)

// factories lists the component types docgen documents: the ones the
// binary builds its pipeline from.
func factories() (pipeline.Factories, error) { return registry.Factories() }

// Component kinds, in the order the page lists them.
const (
	kindSource = "source"
	kindStage  = "stage"
	kindSink   = "sink"
)

var kindOrder = map[string]int{kindSource: 0, kindStage: 1, kindSink: 2}

// listKey is the pipeline key that lists components of each kind.
var listKey = map[string]string{kindSource: "pipeline.sources", kindStage: "pipeline.stages", kindSink: "pipeline.sinks"}

// component is one component type and its default configuration.
type component struct {
	kind, typ string
	// defaults is the factory's CreateDefaultConfig; nil when the type
	// takes no configuration.
	defaults func() any
}

// components returns every component type of f, by kind, then type name.
func components(f pipeline.Factories) []component {
	var out []component
	for typ, fac := range f.Sources {
		out = append(out, component{kindSource, typ, fac.CreateDefaultConfig})
	}
	for typ, fac := range f.Stages {
		out = append(out, component{kindStage, typ, fac.CreateDefaultConfig})
	}
	for typ, fac := range f.Sinks {
		out = append(out, component{kindSink, typ, fac.CreateDefaultConfig})
	}
	slices.SortFunc(out, func(a, b component) int {
		return cmp.Or(cmp.Compare(kindOrder[a.kind], kindOrder[b.kind]), cmp.Compare(a.typ, b.typ))
	})
	return out
}

// componentSection documents one component type: its package's synopsis,
// its config type's doc comment and its keys with the factory's defaults.
func componentSection(src *sources, c component) (section, error) {
	s := section{title: fmt.Sprintf("`%s` %s", c.typ, c.kind), level: 4}
	s.intro = append(s.intro, fmt.Sprintf("In `%s`: `- id: %s` (or `%s/NAME`).", listKey[c.kind], c.typ, c.typ))
	if c.defaults == nil {
		s.intro = append(s.intro, "It takes no configuration.")
		return s, nil
	}
	def := reflect.ValueOf(c.defaults())
	if def.Kind() != reflect.Pointer || def.IsNil() || def.Elem().Kind() != reflect.Struct {
		return section{}, fmt.Errorf("%s %q: CreateDefaultConfig returns %s, want a pointer to a struct", c.kind, c.typ, def.Type())
	}
	info, err := src.typeInfo(def.Elem().Type())
	if err != nil {
		return section{}, err
	}
	if syn := info.pkg.Synopsis(info.pkg.Doc); syn != "" {
		s.intro = append(s.intro, commentMarkdown(info, syn))
	}
	s.intro = append(s.intro, typeMarkdown(info))
	s.keys, err = walkStruct(def.Elem(), "", info, src.typeInfo)
	return s, err
}
