// Package hosttest builds a sink plugin and runs it the way tap does (go-plugin
// over gRPC with AutoMTLS), so a plugin's own tests can drive it through the
// real protocol.
package hosttest

import (
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/tapkit/tap/plugins/sdk/host"
)

// Build compiles the main package in dir (e.g. ".") into a temporary
// directory and returns the binary's path. It skips the test when no go
// command is on PATH.
func Build(t testing.TB, dir, name string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goCmd, "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Start runs the plugin binary and returns its client; the process is
// killed when the test ends.
func Start(t testing.TB, bin string) *host.Client {
	t.Helper()
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  host.Handshake(),
		Plugins:          host.Plugins(),
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  host.DialOptions(),
		AutoMTLS:         true,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	t.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		t.Fatal(err)
	}
	c, err := host.Dispense(rpc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
