package pluginsink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/tapkit/tap/plugins/sdk/host"
)

// process is one running plugin.
type process struct {
	client *plugin.Client
	rpc    *host.Client
}

func (p *process) kill() { p.client.Kill() }

// launch verifies the binary, starts it and configures it.
func (s *Sink) launch(ctx context.Context) (*process, error) {
	if s.cfg.SHA256 != "" {
		if err := verify(s.cfg.Path, s.cfg.SHA256); err != nil {
			return nil, err
		}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  host.Handshake(),
		Plugins:          host.Plugins(),
		Cmd:              exec.Command(s.cfg.Path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		GRPCDialOptions:  host.DialOptions(),
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:        "go-plugin",
			Level:       hclog.Warn,
			Output:      &lineWriter{logger: s.logger, level: slog.LevelWarn, msg: "go-plugin"},
			DisableTime: true,
		}),
		// What the plugin writes to os.Stderr after sdk.Serve comes back
		// over gRPC; the raw stderr (go-plugin's own logs, a panic's trace)
		// goes through Logger.
		SyncStderr: &lineWriter{logger: s.logger, level: slog.LevelInfo, msg: "plugin stderr"},
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("starting plugin %s: %w", s.cfg.Path, err)
	}
	hc, err := host.Dispense(rpc)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", s.cfg.Path, err)
	}
	cctx, cancel := context.WithTimeout(ctx, ConfigureTimeout)
	defer cancel()
	if err := hc.Configure(cctx, s.cfg.Config); err != nil {
		client.Kill()
		var pe *host.PluginError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("plugin %s: config: %s", s.cfg.Path, pe.Message)
		}
		return nil, fmt.Errorf("plugin %s: Configure: %w", s.cfg.Path, err)
	}
	return &process{client: client, rpc: hc}, nil
}

// verify checks that the file at path has the hex SHA-256 want.
func verify(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("path: reading %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want) {
		return fmt.Errorf("sha256: %s has SHA-256 %s, the configuration says %s", path, got, want)
	}
	return nil
}
