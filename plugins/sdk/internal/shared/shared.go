// Package shared holds what both ends of the plugin protocol agree on: the
// go-plugin handshake, the plugin set and the gRPC message-size bound.
package shared

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tapkit/tap/plugins/sdk/internal/proto"
)

// The handshake. A host and a plugin with different ProtocolVersion values
// refuse each other; the magic cookie stops a plugin binary from being run
// by hand by mistake.
const (
	// ProtocolVersion is the version of sink.proto; bump it on any
	// incompatible change.
	ProtocolVersion = 1
	// MagicCookieKey is the environment variable the host sets.
	MagicCookieKey = "TAP_PLUGIN"
	// MagicCookieValue is its value.
	MagicCookieValue = "sink"
	// PluginName is the name the sink is dispensed under.
	PluginName = "sink"
	// MaxMessageSize bounds one gRPC message (a batch or its results).
	MaxMessageSize = 64 << 20
)

// Handshake is the go-plugin handshake of tap's sink plugins.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// SinkPlugin is the go-plugin Plugin of a sink: the plugin side sets Impl,
// the host side leaves it nil and dispenses a proto.SinkClient.
type SinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the implementation served by the plugin process.
	Impl proto.SinkServer
}

var _ plugin.GRPCPlugin = (*SinkPlugin)(nil)

// GRPCServer registers the sink service.
func (p *SinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterSinkServer(s, p.Impl)
	return nil
}

// GRPCClient returns a proto.SinkClient on c.
func (p *SinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return proto.NewSinkClient(c), nil
}

// PluginSet returns the plugin set with srv as the sink (nil on the host).
func PluginSet(srv proto.SinkServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &SinkPlugin{Impl: srv}}
}

// ServerOptions bound the messages the plugin sends and receives.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

// DialOptions bound the messages the host sends and receives.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize),
		grpc.MaxCallSendMsgSize(MaxMessageSize),
	)}
}
