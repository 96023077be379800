package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

// journal records lifecycle calls of fake components, in order.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, s)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.calls...)
}

type fakeConfig struct {
	Prefix  string        `koanf:"prefix"`
	Timeout time.Duration `koanf:"timeout"`
	Nested  struct {
		Size int `koanf:"size"`
	} `koanf:"nested"`
}

func (c *fakeConfig) Validate() error {
	if c.Timeout <= 0 {
		return errors.New("timeout must be positive")
	}
	return nil
}

type fakeComponent struct {
	name string
	j    *journal
	pipelinetest.FuncStage
	pipelinetest.RecordingSink
}

func (c *fakeComponent) Start(context.Context, pipeline.Host) error {
	c.j.add("start " + c.name)
	return nil
}
func (c *fakeComponent) Shutdown(context.Context) error { c.j.add("stop " + c.name); return nil }

func factories(t *testing.T, j *journal, out chan<- *pipeline.Event) pipeline.Factories {
	t.Helper()
	defaults := func() any { return &fakeConfig{Timeout: time.Second} }
	stage := pipeline.StageFactory{Type: "tag", CreateDefaultConfig: defaults,
		Create: func(_ context.Context, set pipeline.Settings, cfg any) (pipeline.Stage, error) {
			prefix := cfg.(*fakeConfig).Prefix
			c := &fakeComponent{name: set.ID.String(), j: j}
			c.Fn = func(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
				if prefix == "drop" {
					return nil // filtered: not an error
				}
				ev.Seq = ev.Seq*10 + int64(len(prefix))
				return next(ctx, ev)
			}
			return c, nil
		}}
	collect := pipeline.StageFactory{Type: "collect",
		Create: func(_ context.Context, set pipeline.Settings, _ any) (pipeline.Stage, error) {
			c := &fakeComponent{name: set.ID.String(), j: j}
			c.Fn = func(_ context.Context, ev *pipeline.Event, _ pipeline.Next) error { out <- ev; return nil }
			return c, nil
		}}
	sink := pipeline.SinkFactory{Type: "rec",
		Create: func(_ context.Context, set pipeline.Settings, _ any) (pipeline.Sink, error) {
			return &fakeComponent{name: set.ID.String(), j: j}, nil
		}}
	var submit pipeline.Submit
	source := pipeline.SourceFactory{Type: "src",
		Create: func(_ context.Context, set pipeline.Settings, _ any, s pipeline.Submit) (pipeline.Source, error) {
			submit = s
			return &fakeComponent{name: set.ID.String(), j: j}, nil
		}}
	_ = submit
	f, err := pipeline.MakeFactories([]pipeline.SourceFactory{source}, []pipeline.StageFactory{stage, collect}, []pipeline.SinkFactory{sink})
	require.NoError(t, err)
	return f
}

func TestGraphStartStopOrderAndChain(t *testing.T) {
	j := &journal{}
	out := make(chan *pipeline.Event, 10)
	cfg := pipeline.Config{Lanes: 2, QueueCapacity: 10,
		Sources: []pipeline.ComponentConfig{{ID: "src"}},
		Stages: []pipeline.ComponentConfig{
			{ID: "tag/a", Config: map[string]any{"prefix": "x"}},
			{ID: "tag/b", Config: map[string]any{"prefix": "yy", "timeout": "2s", "nested": map[string]any{"size": 3}}},
			{ID: "collect"},
		},
		Sinks: []pipeline.ComponentConfig{{ID: "rec/one"}, {ID: "rec/two"}},
	}
	g, err := pipeline.Build(t.Context(), cfg, factories(t, j, out), pipeline.BuildSettings{})
	require.NoError(t, err)
	require.Len(t, g.Sinks(), 2)
	require.Len(t, g.Stages(), 3, "Stages lists the chain")
	require.NoError(t, g.Start(t.Context()))
	require.NoError(t, g.Lanes().Submit(t.Context(), &pipeline.Event{DID: did(1), Seq: 1}))
	ev := <-out
	require.Equal(t, int64(112), ev.Seq, "stages run in configured order")
	require.NoError(t, g.Shutdown(t.Context()))
	require.Equal(t, []string{
		"start rec/one", "start rec/two", "start collect", "start tag/b", "start tag/a", "start src",
		"stop src", "stop tag/a", "stop tag/b", "stop collect", "stop rec/one", "stop rec/two",
	}, j.list())
}

func TestGraphFilteredEventIsNotAnError(t *testing.T) {
	out := make(chan *pipeline.Event, 1)
	cfg := pipeline.Config{Lanes: 1, QueueCapacity: 1, Stages: []pipeline.ComponentConfig{
		{ID: "tag", Config: map[string]any{"prefix": "drop"}}, {ID: "collect"}}}
	g, err := pipeline.Build(t.Context(), cfg, factories(t, &journal{}, out), pipeline.BuildSettings{})
	require.NoError(t, err)
	require.NoError(t, g.Start(t.Context()))
	done := make(chan error, 1)
	require.NoError(t, g.Lanes().Submit(t.Context(), &pipeline.Event{DID: did(1), Done: func(err error) { done <- err }}))
	require.NoError(t, <-done)
	require.NoError(t, g.Shutdown(t.Context()))
	require.Empty(t, out)
	require.Equal(t, uint64(1), g.Lanes().Stats().Processed)
}

func TestGraphBuildErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  pipeline.Config
		want string
	}{
		"unknown stage":    {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "nope"}}}, `pipeline.stages[0]: stage "nope": unknown component type`},
		"unknown sink":     {pipeline.Config{Sinks: []pipeline.ComponentConfig{{ID: "nope/x"}}}, `pipeline.sinks[0]: sink "nope": unknown component type`},
		"duplicate id":     {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag"}, {ID: "tag"}}}, `pipeline.stages[1].id: "tag" is listed twice`},
		"bad id":           {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "a/b/c"}}}, `pipeline.stages[0].id: invalid component id "a/b/c"`},
		"unknown key":      {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag", Config: map[string]any{"prefx": "x"}}}}, `pipeline.stages[0].config`},
		"nested unknown":   {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag", Config: map[string]any{"nested": map[string]any{"sise": 1}}}}}, `sise`},
		"wrong type":       {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag", Config: map[string]any{"nested": map[string]any{"size": "big"}}}}}, `pipeline.stages[0].config.nested.size`},
		"bare duration":    {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag", Config: map[string]any{"timeout": 10}}}}, `write it as a string with a unit`},
		"validate":         {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "tag", Config: map[string]any{"timeout": "-1s"}}}}, `pipeline.stages[0].config: timeout must be positive`},
		"config for none":  {pipeline.Config{Stages: []pipeline.ComponentConfig{{ID: "collect", Config: map[string]any{"x": 1}}}}, `takes no configuration`},
		"unknown source":   {pipeline.Config{Sources: []pipeline.ComponentConfig{{ID: "firehose"}}}, `pipeline.sources[0]: source "firehose": unknown component type`},
		"source bad value": {pipeline.Config{Sources: []pipeline.ComponentConfig{{ID: "src", Config: map[string]any{"a": 1}}}}, `takes no configuration`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.Build(t.Context(), tc.cfg, factories(t, &journal{}, nil), pipeline.BuildSettings{})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestMakeFactoriesDuplicateType(t *testing.T) {
	s := pipeline.StageFactory{Type: "verify", Create: func(context.Context, pipeline.Settings, any) (pipeline.Stage, error) { return nil, nil }}
	_, err := pipeline.MakeFactories(nil, []pipeline.StageFactory{s, s}, nil)
	require.ErrorIs(t, err, pipeline.ErrDuplicateType)
	_, err = pipeline.MakeFactories(nil, []pipeline.StageFactory{{Type: "x"}}, nil)
	require.ErrorContains(t, err, "create function")
}

func TestResource(t *testing.T) {
	type store struct{ name string }
	set := pipeline.Settings{ID: pipeline.ID{Type: "x"}, Resources: []any{"a string", &store{"db"}}}
	s, err := pipeline.Resource[*store](set)
	require.NoError(t, err)
	require.Equal(t, "db", s.name)
	_, err = pipeline.Resource[int](set)
	require.ErrorContains(t, err, "no resource of type int")
}

func TestBackoffCappedAndJittered(t *testing.T) {
	b := pipeline.Backoff{Base: 10 * time.Millisecond, Max: time.Second}
	prev := time.Duration(0)
	for i := range 200 { // far past any shift overflow
		d := b.Next()
		require.Greater(t, d, time.Duration(0))
		require.LessOrEqual(t, d, time.Second, "attempt %d", i)
		if i < 5 {
			require.GreaterOrEqual(t, d, prev/2)
		}
		prev = d
	}
	b.Reset()
	require.Less(t, b.Next(), 16*time.Millisecond)
	huge := pipeline.Backoff{Base: time.Second, Max: time.Duration(1<<63 - 1)}
	for range 100 {
		require.Positive(t, huge.Next(), "no overflow with a huge Max")
	}
}

func TestErrorVocabulary(t *testing.T) {
	base := errors.New("boom")
	require.Nil(t, pipeline.Permanent(nil))
	require.Nil(t, pipeline.RetryAfter(nil, time.Second))
	p := pipeline.Permanent(base)
	require.True(t, pipeline.IsPermanent(p))
	require.ErrorIs(t, p, base)
	require.False(t, pipeline.IsPermanent(base))
	r := pipeline.RetryAfter(base, 3*time.Second)
	d, ok := pipeline.RetryDelay(r)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, d)
	require.ErrorIs(t, r, base)
	be := &pipeline.BatchError{Errs: []error{nil, base, nil}}
	require.Equal(t, "1 of 3 events failed: boom", be.Error())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, pipeline.Sleep(ctx, time.Hour), context.Canceled)
}

func TestFakesPassLifecycle(t *testing.T) {
	pipelinetest.CheckLifecycle(t, func(*testing.T) pipeline.Component { return &pipelinetest.RecordingSink{} })
	pipelinetest.CheckLifecycle(t, func(*testing.T) pipeline.Component { return &pipelinetest.FuncStage{} })
}
