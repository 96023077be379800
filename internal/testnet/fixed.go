package testnet

import (
	"fmt"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// FixedWrites returns count creates from the from-th record on — posts,
// likes and follows in turn — with fixed record keys (a TID one second
// after the previous one, from 2026-01-01) and fixed content. Unlike the
// generated history, the same calls build the same MST and commits in
// every run, which benchmarks need to compare like with like.
func FixedWrites(from, count int) []Write {
	out := make([]Write, count)
	for k := range out {
		i := from + k
		switch i % 3 {
		case 0:
			out[k] = Create(CollectionPost, fixedRKey(i), map[string]any{
				"text":      fmt.Sprintf("post %d: a typical short post, about a tweet's length, with a link https://example.com/x", i),
				"createdAt": "2026-01-02T03:04:05.678Z",
				"langs":     []any{"en"},
			})
		case 1:
			out[k] = Create(CollectionLike, fixedRKey(i), map[string]any{
				"subject": map[string]any{
					"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k2la3mzcvs2c",
					"cid": "bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq",
				},
				"createdAt": "2026-01-02T03:04:05.678Z",
			})
		default:
			out[k] = Create(CollectionFollow, fixedRKey(i), map[string]any{
				"subject": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "createdAt": "2026-01-02T03:04:05.678Z",
			})
		}
	}
	return out
}

// fixedRKey is the i-th record key of FixedWrites.
func fixedRKey(i int) syntax.RecordKey {
	const epoch = 1_767_225_600_000_000 // 2026-01-01, in µs
	return syntax.RecordKey(syntax.NewTID(epoch+int64(i)*1_000_000, 0).String())
}
