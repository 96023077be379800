// Command tap-jsonl is a tap sink plugin that appends every event's JSON,
// one line per event, to a file, with optional fsync and size-based
// rotation.
//
// See README.md for its configuration.
package main

import "github.com/tapkit/tap/plugins/sdk"

func main() { sdk.Serve(&sink{}) }
