package pipeline_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/pipeline"
)

// The graph counts what each stage takes in, passes on and drops; a
// dropped event is no failure.
func TestGraphStageStats(t *testing.T) {
	out := make(chan *pipeline.Event, 2)
	cfg := pipeline.Config{Lanes: 1, QueueCapacity: 2, Stages: []pipeline.ComponentConfig{
		{ID: "tag/pass", Config: map[string]any{"prefix": "x"}},
		{ID: "tag/drop", Config: map[string]any{"prefix": "drop"}},
		{ID: "collect"},
	}}
	g, err := pipeline.Build(t.Context(), cfg, factories(t, &journal{}, out), pipeline.BuildSettings{})
	require.NoError(t, err)
	require.Equal(t, 2, g.Lanes().Capacity())
	ids := make([]string, 0, 3)
	for _, s := range g.Stages() {
		ids = append(ids, s.ID.String())
	}
	require.Equal(t, []string{"tag/pass", "tag/drop", "collect"}, ids)
	require.NoError(t, g.Start(t.Context()))
	done := make(chan error, 2)
	for i := range 2 {
		require.NoError(t, g.Lanes().Submit(t.Context(), &pipeline.Event{DID: did(i), Done: func(err error) { done <- err }}))
	}
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.NoError(t, g.Shutdown(t.Context()))
	require.Empty(t, out)
	require.Equal(t, []pipeline.StageStats{
		{ID: pipeline.ID{Type: "tag", Name: "pass"}, In: 2, Out: 2},
		{ID: pipeline.ID{Type: "tag", Name: "drop"}, In: 2, Dropped: 2},
		{ID: pipeline.ID{Type: "collect"}},
	}, g.StageStats())
}
