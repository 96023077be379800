package sdk_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tapkit/tap/plugins/sdk"
)

// printSink prints the record events it is given and acks them.
type printSink struct{ prefix string }

func (s *printSink) Configure(_ context.Context, config map[string]any) error {
	if p, ok := config["prefix"].(string); ok {
		s.prefix = p
	}
	return nil
}

func (s *printSink) Deliver(_ context.Context, batch []sdk.Event) []sdk.Result {
	results := make([]sdk.Result, len(batch))
	for i, ev := range batch {
		if ev.Type != sdk.TypeRecord {
			results[i] = sdk.Fail("only records are supported")
			continue
		}
		fmt.Fprintf(os.Stdout, "%s%d %s %s/%s\n", s.prefix, ev.ID, ev.Action, ev.Collection, ev.RKey)
		results[i] = sdk.Ack()
	}
	return results
}

func (s *printSink) Shutdown(context.Context) error { return nil }

// A plugin implements sdk.Sink and calls sdk.Serve(&printSink{}) from its
// main function; here the sink is called directly to show its behaviour.
// (A real plugin must not write to stdout: its logs go to stderr.)
func Example_sink() {
	var s sdk.Sink = &printSink{}
	ctx := context.Background()
	_ = s.Configure(ctx, map[string]any{"prefix": "event "})
	results := s.Deliver(ctx, []sdk.Event{
		{ID: 1, Type: sdk.TypeRecord, Action: "create", Collection: "app.bsky.feed.post", RKey: "3l"},
		{ID: 2, Type: sdk.TypeIdentity},
	})
	for _, r := range results {
		fmt.Printf("%s %q\n", r.Status, r.Message)
	}
	// Output:
	// event 1 create app.bsky.feed.post/3l
	// acked ""
	// failed "only records are supported"
}
