// Command tap-nats is a tap sink plugin that publishes every event to NATS
// JetStream, one message per event, de-duplicated by event id.
//
// See README.md for its configuration.
package main

import "github.com/tapkit/tap/plugins/sdk"

func main() { sdk.Serve(&sink{}) }
