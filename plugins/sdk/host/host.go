// Package host is the tap side of the sink plugin protocol: what
// sinks/pluginsink needs to start a plugin built with package sdk and talk
// to it. Plugin authors do not import it.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tapkit/tap/plugins/sdk"
	"github.com/tapkit/tap/plugins/sdk/internal/proto"
	"github.com/tapkit/tap/plugins/sdk/internal/shared"
)

// Handshake is the handshake a plugin built with sdk.Serve answers.
func Handshake() plugin.HandshakeConfig { return shared.Handshake }

// Plugins is the plugin set to put in plugin.ClientConfig.
func Plugins() plugin.PluginSet { return shared.PluginSet(nil) }

// DialOptions bound the size of the messages exchanged with the plugin; put
// them in plugin.ClientConfig.GRPCDialOptions.
func DialOptions() []grpc.DialOption { return shared.DialOptions() }

// Event is the part of an event the host sends; the plugin decodes the
// rest of sdk.Event from JSON.
type Event struct {
	ID   uint64
	DID  string
	Live bool
	JSON []byte
}

// PluginError is an error reported by the plugin's own code (Configure or
// Shutdown returned it), as opposed to a failure of the transport.
type PluginError struct{ Message string }

func (e *PluginError) Error() string { return e.Message }

// Client calls a plugin's sink.
type Client struct{ c proto.SinkClient }

// Dispense returns the client of the sink served over rpc.
func Dispense(rpc plugin.ClientProtocol) (*Client, error) {
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		return nil, err
	}
	c, ok := raw.(proto.SinkClient)
	if !ok {
		return nil, fmt.Errorf("plugin dispensed %T, want a sink client", raw)
	}
	return &Client{c: c}, nil
}

// Configure passes config to the plugin's Configure. An error the plugin
// returned is a *PluginError.
func (c *Client) Configure(ctx context.Context, config map[string]any) error {
	raw, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("encoding the config as JSON: %w", err)
	}
	resp, err := c.c.Configure(ctx, &proto.ConfigureRequest{ConfigJson: raw})
	if err != nil {
		return err
	}
	if resp.GetError() != "" {
		return &PluginError{Message: resp.GetError()}
	}
	return nil
}

// ErrResultCount means the plugin answered a batch with a wrong number of
// results.
var ErrResultCount = errors.New("plugin returned a wrong number of results")

// Deliver sends batch and returns one result per event. An error means the
// whole batch failed (the plugin is unreachable or crashed).
func (c *Client) Deliver(ctx context.Context, batch []Event) ([]sdk.Result, error) {
	req := &proto.DeliverRequest{Events: make([]*proto.Event, len(batch))}
	for i, e := range batch {
		req.Events[i] = &proto.Event{Id: e.ID, Did: e.DID, Live: e.Live, Json: e.JSON}
	}
	resp, err := c.c.Deliver(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(batch) {
		return nil, fmt.Errorf("%w: %d for %d events", ErrResultCount, len(resp.GetResults()), len(batch))
	}
	out := make([]sdk.Result, len(batch))
	for i, r := range resp.GetResults() {
		out[i] = sdk.Result{Status: statusFromProto(r.GetStatus()), Message: r.GetMessage()}
	}
	return out, nil
}

// Shutdown calls the plugin's Shutdown. An error the plugin returned is a
// *PluginError.
func (c *Client) Shutdown(ctx context.Context) error {
	resp, err := c.c.Shutdown(ctx, &proto.ShutdownRequest{})
	if err != nil {
		return err
	}
	if resp.GetError() != "" {
		return &PluginError{Message: resp.GetError()}
	}
	return nil
}

func statusFromProto(s proto.Status) sdk.ResultStatus {
	switch s {
	case proto.Status_STATUS_ACKED:
		return sdk.Acked
	case proto.Status_STATUS_FAILED:
		return sdk.Failed
	default:
		return sdk.Retry
	}
}
