package sdk

import "github.com/tapkit/tap/plugins/sdk/internal/proto"

// NewServer exposes the gRPC adapter to the in-process tests.
func NewServer(impl Sink) proto.SinkServer { return newServer(impl) }
