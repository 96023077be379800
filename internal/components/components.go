// Package components lists every component type tap knows: the sources,
// stages and sinks a pipeline configuration may name. The binary builds its
// pipeline from this list and the configuration reference documents it, so
// the two cannot differ.
package components

import (
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/pluginsink"
	"github.com/tapkit/tap/sinks/webhooksink"
	"github.com/tapkit/tap/sinks/websocketsink"
	"github.com/tapkit/tap/sources/crawlersource"
	"github.com/tapkit/tap/sources/firehosesource"
	"github.com/tapkit/tap/stages/backfillstage"
	"github.com/tapkit/tap/stages/filterstage"
	"github.com/tapkit/tap/stages/orderstage"
	"github.com/tapkit/tap/stages/verifystage"
)

// Factories returns the factories of every component type. Nothing
// registers itself: a type is available only if it is listed here, and a
// type listed twice is an error.
func Factories() (pipeline.Factories, error) {
	return pipeline.MakeFactories(
		[]pipeline.SourceFactory{
			firehosesource.NewFactory(),
			crawlersource.NewFactory(),
		},
		[]pipeline.StageFactory{
			filterstage.NewFactory(),
			backfillstage.NewFactory(),
			verifystage.NewFactory(),
			orderstage.NewFactory(),
		},
		[]pipeline.SinkFactory{
			websocketsink.NewFactory(),
			webhooksink.NewFactory(),
			pluginsink.NewFactory(),
		},
	)
}
