package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Config is the `pipeline` section of the configuration.
type Config struct {
	// Lanes is how many DIDs are processed at once (TAP_FIREHOSE_PARALLELISM).
	Lanes int `koanf:"lanes"`
	// QueueCapacity bounds the events queued in the lanes across all DIDs;
	// a full queue blocks the sources (back-pressure).
	QueueCapacity int `koanf:"queue_capacity"`
	// Sources produce events, in the order listed.
	Sources []ComponentConfig `koanf:"sources"`
	// Stages form the chain every event runs through, in the order listed.
	Stages []ComponentConfig `koanf:"stages"`
	// Sinks receive every committed event.
	Sinks []ComponentConfig `koanf:"sinks"`
}

// ComponentConfig names one configured component and its own settings.
type ComponentConfig struct {
	// ID is "type" or "type/name"; a type may appear several times with
	// different names.
	ID string `koanf:"id"`
	// Config is the component's own configuration, decoded strictly into
	// the factory's config struct.
	Config map[string]any `koanf:"config"`
}

// Graph is a built pipeline: sources feeding the lanes, which run the stage
// chain, whose last stage commits events and hands them to the sinks.
type Graph struct {
	sources []namedComponent
	stages  []namedComponent
	sinks   []NamedSink
	counted []*countedStage // the stages as the lanes run them, in stages' order
	lanes   *Lanes
	logger  *slog.Logger
}

type namedComponent struct {
	id ID
	c  Component
}

// BuildSettings carry what every component is created with.
type BuildSettings struct {
	Logger    *slog.Logger
	Resources []any
}

// Build creates every configured component with its factory, wires the
// stage chain into the lanes and the lanes into the sources. Nothing is
// started. Component ids must be unique within their kind.
func Build(ctx context.Context, cfg Config, f Factories, set BuildSettings) (*Graph, error) {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Graph{logger: set.Logger}
	settings := func(id ID) Settings {
		return Settings{ID: id, Logger: set.Logger.With("component", id.String()), Resources: set.Resources}
	}
	var err error
	if g.sinks, err = buildSinks(ctx, cfg.Sinks, f, settings); err != nil {
		return nil, err
	}
	stages := make([]Stage, 0, len(cfg.Stages))
	err = eachComponent("pipeline.stages", cfg.Stages, func(path string, id ID, raw map[string]any) error {
		fac, ok := f.Stages[id.Type]
		if !ok {
			return fmt.Errorf("%s: stage %q: %w", path, id.Type, ErrUnknownType)
		}
		c, err := decodeComponentConfig(path+".config", fac.CreateDefaultConfig, raw)
		if err != nil {
			return err
		}
		s, err := fac.Create(ctx, settings(id), c)
		if err != nil {
			return fmt.Errorf("%s: creating stage %s: %w", path, id, err)
		}
		cs := &countedStage{Stage: s}
		stages = append(stages, cs)
		g.counted = append(g.counted, cs)
		g.stages = append(g.stages, namedComponent{id, s})
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.lanes = NewLanes(LanesConfig{Workers: cfg.Lanes, Capacity: cfg.QueueCapacity},
		set.Logger.With("component", "lanes"), Chain(stages...))
	err = eachComponent("pipeline.sources", cfg.Sources, func(path string, id ID, raw map[string]any) error {
		fac, ok := f.Sources[id.Type]
		if !ok {
			return fmt.Errorf("%s: source %q: %w", path, id.Type, ErrUnknownType)
		}
		c, err := decodeComponentConfig(path+".config", fac.CreateDefaultConfig, raw)
		if err != nil {
			return err
		}
		s, err := fac.Create(ctx, settings(id), c, g.lanes.Submit)
		if err != nil {
			return fmt.Errorf("%s: creating source %s: %w", path, id, err)
		}
		g.sources = append(g.sources, namedComponent{id, s})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

func buildSinks(ctx context.Context, cfgs []ComponentConfig, f Factories, settings func(ID) Settings) ([]NamedSink, error) {
	var sinks []NamedSink
	err := eachComponent("pipeline.sinks", cfgs, func(path string, id ID, raw map[string]any) error {
		fac, ok := f.Sinks[id.Type]
		if !ok {
			return fmt.Errorf("%s: sink %q: %w", path, id.Type, ErrUnknownType)
		}
		c, err := decodeComponentConfig(path+".config", fac.CreateDefaultConfig, raw)
		if err != nil {
			return err
		}
		s, err := fac.Create(ctx, settings(id), c)
		if err != nil {
			return fmt.Errorf("%s: creating sink %s: %w", path, id, err)
		}
		sinks = append(sinks, NamedSink{ID: id, Sink: s})
		return nil
	})
	return sinks, err
}

// eachComponent parses and de-duplicates ids, then calls fn per component.
func eachComponent(section string, cfgs []ComponentConfig, fn func(path string, id ID, raw map[string]any) error) error {
	seen := make(map[ID]bool, len(cfgs))
	for i, c := range cfgs {
		path := fmt.Sprintf("%s[%d]", section, i)
		id, err := ParseID(c.ID)
		if err != nil {
			return fmt.Errorf("%s.id: %w", path, err)
		}
		if seen[id] {
			return fmt.Errorf("%s.id: %q is listed twice; give one a name (%s/other)", path, id, id.Type)
		}
		seen[id] = true
		if err := fn(path, id, c.Config); err != nil {
			return err
		}
	}
	return nil
}

// Chain composes stages into the handler the lanes run: each stage's next is
// the following stage; the last stage's next accepts and drops.
func Chain(stages ...Stage) func(ctx context.Context, ev *Event) error {
	next := Next(func(context.Context, *Event) error { return nil })
	for i := len(stages) - 1; i >= 0; i-- {
		s, after := stages[i], next
		next = func(ctx context.Context, ev *Event) error { return s.Process(ctx, ev, after) }
	}
	return next
}

// Sinks returns the graph's sinks; Graph is the Host of its components.
func (g *Graph) Sinks() []NamedSink { return g.sinks }

// Submit puts an event into the graph's lanes.
func (g *Graph) Submit(ctx context.Context, ev *Event) error { return g.lanes.Submit(ctx, ev) }

// Sources returns the graph's sources in configuration order.
func (g *Graph) Sources() []Source {
	out := make([]Source, len(g.sources))
	for i, s := range g.sources {
		out[i] = s.c
	}
	return out
}

// Lanes returns the graph's lanes (for stats and for sources created
// outside the graph).
func (g *Graph) Lanes() *Lanes { return g.lanes }

// Start starts sinks, then stages from last to first, then the lanes, then
// sources. If a component fails to start, the ones already started are shut
// down and the error is returned.
func (g *Graph) Start(ctx context.Context) error {
	for _, s := range g.sinks {
		if err := g.start(ctx, "sink "+s.ID.String(), s.Sink); err != nil {
			return err
		}
	}
	for i := len(g.stages) - 1; i >= 0; i-- {
		if err := g.start(ctx, "stage "+g.stages[i].id.String(), g.stages[i].c); err != nil {
			return err
		}
	}
	g.lanes.Start()
	for _, s := range g.sources {
		if err := g.start(ctx, "source "+s.id.String(), s.c); err != nil {
			return err
		}
	}
	return nil
}

func (g *Graph) start(ctx context.Context, what string, c Component) error {
	if err := c.Start(ctx, g); err != nil {
		err = fmt.Errorf("starting %s: %w", what, err)
		return errors.Join(err, g.Shutdown(context.WithoutCancel(ctx)))
	}
	return nil
}

// Shutdown stops sources, drains the lanes, then stops stages from first to
// last and sinks last, all within ctx's deadline. Every component is shut
// down even if some fail; the errors are joined.
func (g *Graph) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range g.sources {
		errs = append(errs, s.c.Shutdown(ctx))
	}
	if err := g.lanes.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("draining lanes: %w", err))
	}
	for _, s := range g.stages {
		errs = append(errs, s.c.Shutdown(ctx))
	}
	for _, s := range g.sinks {
		errs = append(errs, s.Sink.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
