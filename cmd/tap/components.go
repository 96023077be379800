package main

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

// components lists every component type tap knows. Nothing registers
// itself: a type is available only if it is listed here, and a type listed
// twice fails startup.
func components() (pipeline.Factories, error) {
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
