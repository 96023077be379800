package testnet_test

import (
	"context"
	"fmt"

	"github.com/tapkit/tap/internal/testnet"
)

// A test starts a network, creates accounts and writes records; each
// write is one signed #commit on the firehose at RelayURL.
func ExampleStart() {
	ctx := context.Background()
	n, err := testnet.Start(ctx, testnet.Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	defer n.Close()

	accts, err := n.CreateAccounts(1)
	if err != nil {
		panic(err)
	}
	alice := accts[0]
	ev, err := alice.CreateRecord(testnet.CollectionPost, "hello", map[string]any{"text": "hi"})
	if err != nil {
		panic(err)
	}
	ident, err := n.Directory().LookupDID(ctx, alice.DID())
	if err != nil {
		panic(err)
	}
	fmt.Println(alice.DID(), ident.Handle)
	fmt.Println(ev.Kind, ev.Seq, ev.Ops[0].Action, ev.Ops[0].Path())
	// Output:
	// did:plc:leunzh7s4d3a3nm6sx35fivp u0.test
	// commit 4 create app.bsky.feed.post/hello
}
