// Command tap-sqlmirror is a tap sink plugin that mirrors the current
// records of the repositories tap follows into a SQL table (SQLite or
// Postgres), exactly once in effect.
//
// See README.md for its configuration.
package main

import "github.com/tapkit/tap/plugins/sdk"

func main() { sdk.Serve(&sink{}) }
