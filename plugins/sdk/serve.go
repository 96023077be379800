package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tapkit/tap/plugins/sdk/internal/proto"
	"github.com/tapkit/tap/plugins/sdk/internal/shared"
)

// Serve serves impl to tap and returns when tap ends the plugin. Call it
// from main. Run by hand (not by tap), it prints a message and exits.
func Serve(impl Sink) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         shared.PluginSet(newServer(impl)),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, shared.ServerOptions()...))
		},
	})
}

// server adapts a Sink to the gRPC service.
type server struct {
	proto.UnimplementedSinkServer
	impl Sink
}

func newServer(impl Sink) *server { return &server{impl: impl} }

func (s *server) Configure(ctx context.Context, req *proto.ConfigureRequest) (*proto.ConfigureResponse, error) {
	var cfg map[string]any
	if len(req.GetConfigJson()) > 0 {
		if err := json.Unmarshal(req.GetConfigJson(), &cfg); err != nil {
			return &proto.ConfigureResponse{Error: fmt.Sprintf("decoding the config: %v", err)}, nil
		}
	}
	if err := s.impl.Configure(ctx, cfg); err != nil {
		return &proto.ConfigureResponse{Error: err.Error()}, nil
	}
	return &proto.ConfigureResponse{}, nil
}

func (s *server) Deliver(ctx context.Context, req *proto.DeliverRequest) (*proto.DeliverResponse, error) {
	in := req.GetEvents()
	batch := make([]Event, len(in))
	for i, e := range in {
		batch[i] = eventFromProto(e)
	}
	results := s.impl.Deliver(ctx, batch)
	out := make([]*proto.Result, len(in))
	for i := range out {
		r := Result{Message: "the plugin returned no result for this event"}
		if i < len(results) {
			r = results[i]
		}
		out[i] = &proto.Result{Status: statusToProto(r.Status), Message: r.Message}
	}
	return &proto.DeliverResponse{Results: out}, nil
}

func (s *server) Shutdown(ctx context.Context, _ *proto.ShutdownRequest) (*proto.ShutdownResponse, error) {
	if err := s.impl.Shutdown(ctx); err != nil {
		return &proto.ShutdownResponse{Error: err.Error()}, nil
	}
	return &proto.ShutdownResponse{}, nil
}

func eventFromProto(e *proto.Event) Event {
	ev := Event{ID: e.GetId(), DID: e.GetDid(), Live: e.GetLive(), JSON: e.GetJson()}
	decodeJSON(&ev)
	return ev
}

func statusToProto(s ResultStatus) proto.Status {
	switch s {
	case Acked:
		return proto.Status_STATUS_ACKED
	case Failed:
		return proto.Status_STATUS_FAILED
	default:
		return proto.Status_STATUS_RETRY
	}
}
