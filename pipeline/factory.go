package pipeline

import (
	"context"
	"fmt"
)

// StageFactory builds stages of one type.
type StageFactory struct {
	// Type is the type name used in the configuration ("verify").
	Type string
	// CreateDefaultConfig returns a pointer to the default configuration;
	// the component's YAML sub-tree is decoded into it.
	CreateDefaultConfig func() any
	// Create builds a stage from its decoded and validated configuration.
	Create func(ctx context.Context, set Settings, cfg any) (Stage, error)
}

// SinkFactory builds sinks of one type.
type SinkFactory struct {
	Type                string
	CreateDefaultConfig func() any
	Create              func(ctx context.Context, set Settings, cfg any) (Sink, error)
}

// SourceFactory builds sources of one type; submit puts events into the
// lanes.
type SourceFactory struct {
	Type                string
	CreateDefaultConfig func() any
	Create              func(ctx context.Context, set Settings, cfg any, submit Submit) (Source, error)
}

// Factories are the component types an application knows, by type name.
type Factories struct {
	Sources map[string]SourceFactory
	Stages  map[string]StageFactory
	Sinks   map[string]SinkFactory
}

// MakeFactories indexes the given factories by type. Listing two factories
// of the same kind with the same type is an error (ErrDuplicateType), as is
// a factory without a type or create function.
func MakeFactories(sources []SourceFactory, stages []StageFactory, sinks []SinkFactory) (Factories, error) {
	f := Factories{
		Sources: make(map[string]SourceFactory),
		Stages:  make(map[string]StageFactory),
		Sinks:   make(map[string]SinkFactory),
	}
	for _, s := range sources {
		if err := add(f.Sources, "source", s.Type, s.Create != nil, s); err != nil {
			return Factories{}, err
		}
	}
	for _, s := range stages {
		if err := add(f.Stages, "stage", s.Type, s.Create != nil, s); err != nil {
			return Factories{}, err
		}
	}
	for _, s := range sinks {
		if err := add(f.Sinks, "sink", s.Type, s.Create != nil, s); err != nil {
			return Factories{}, err
		}
	}
	return f, nil
}

func add[F any](m map[string]F, kind, typ string, hasCreate bool, f F) error {
	if typ == "" || !hasCreate {
		return fmt.Errorf("%s factory %q: type and create function are required", kind, typ)
	}
	if _, dup := m[typ]; dup {
		return fmt.Errorf("%s factory %q: %w", kind, typ, ErrDuplicateType)
	}
	m[typ] = f
	return nil
}

// decodeComponentConfig builds a component's configuration: defaults from
// the factory, overlaid with the raw YAML sub-tree (strictly), validated.
func decodeComponentConfig(path string, defaults func() any, raw map[string]any) (any, error) {
	if defaults == nil {
		if len(raw) > 0 {
			return nil, fmt.Errorf("%s: this component takes no configuration", path)
		}
		return nil, nil
	}
	cfg := defaults()
	if err := Decode(raw, cfg, path); err != nil {
		return nil, err
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return cfg, nil
}
