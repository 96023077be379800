package main

import "github.com/tapkit/tap/pipeline"

// components lists every component type tap knows. Nothing registers
// itself: a type is available only if it is listed here, and a type listed
// twice fails startup.
func components() (pipeline.Factories, error) {
	return pipeline.MakeFactories(
		[]pipeline.SourceFactory{},
		[]pipeline.StageFactory{},
		[]pipeline.SinkFactory{},
	)
}
