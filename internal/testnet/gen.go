package testnet

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Collections the generators write.
const (
	CollectionPost   syntax.NSID = "app.bsky.feed.post"
	CollectionLike   syntax.NSID = "app.bsky.feed.like"
	CollectionFollow syntax.NSID = "app.bsky.graph.follow"
)

// recordGen makes plausible Bluesky records: mostly posts (some with an
// image blob and a bytes field, so renderers meet $link, $bytes and blob
// values), likes and follows. It is deterministic for a given rng.
type recordGen struct {
	rng  *rand.Rand
	seed int64
	base time.Time
	n    int
}

var words = []string{"atproto", "firehose", "tap", "relay", "repo", "commit", "record", "sync",
	"hello", "world", "sky", "blue", "loopback", "merkle", "tree", "car", "event", "cursor", "<&>", "ünïcødé"}

func newRecordGen(seed int64, index int) *recordGen {
	s := derive("records", seed, uint64(index))
	return &recordGen{
		rng:  rand.New(rand.NewPCG(uint64FromBytes(s[:8]), uint64FromBytes(s[8:16]))),
		seed: seed,
		base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func uint64FromBytes(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// next returns a collection and a record value for it.
func (g *recordGen) next() (syntax.NSID, map[string]any) {
	g.n++
	switch p := g.rng.IntN(100); {
	case p < 60:
		return CollectionPost, g.post(p < 5)
	case p < 85:
		return CollectionLike, g.like()
	default:
		return CollectionFollow, g.follow()
	}
}

// record returns a record value of collection.
func (g *recordGen) record(collection syntax.NSID) map[string]any {
	g.n++
	switch collection {
	case CollectionLike:
		return g.like()
	case CollectionFollow:
		return g.follow()
	default:
		return g.post(g.rng.IntN(20) == 0)
	}
}

func (g *recordGen) createdAt() string {
	t := g.base.Add(time.Duration(g.n) * time.Second)
	return syntax.Datetime(t.Format(syntax.AtprotoDatetimeLayout)).String()
}

func (g *recordGen) text() string {
	k := 3 + g.rng.IntN(12)
	out := make([]byte, 0, 8*k)
	for i := range k {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, words[g.rng.IntN(len(words))]...)
	}
	return string(out)
}

func (g *recordGen) post(withImage bool) map[string]any {
	rec := map[string]any{"$type": string(CollectionPost), "text": g.text(), "createdAt": g.createdAt(), "langs": []any{"en"}}
	if withImage {
		blob := make([]byte, 16)
		for i := range blob {
			blob[i] = byte(g.rng.UintN(256))
		}
		ref, _ := cid.NewPrefixV1(cid.Raw, multihash.SHA2_256).Sum(blob)
		rec["embed"] = map[string]any{
			"$type": "app.bsky.embed.images",
			"images": []any{map[string]any{
				"alt":   "generated",
				"image": atdata.Blob{Ref: atdata.CIDLink(ref), MimeType: "image/jpeg", Size: int64(1000 + g.rng.IntN(100000))},
			}},
		}
		rec["testnetTag"] = atdata.Bytes(blob[:8])
	}
	return rec
}

func (g *recordGen) like() map[string]any {
	target := deriveDID(g.seed, g.rng.IntN(1000))
	c, _ := cborPrefix.Sum([]byte(fmt.Sprint(g.n)))
	return map[string]any{
		"$type":     string(CollectionLike),
		"subject":   map[string]any{"uri": "at://" + target.String() + "/app.bsky.feed.post/3k2la3mzcvs2c", "cid": c.String()},
		"createdAt": g.createdAt(),
	}
}

func (g *recordGen) follow() map[string]any {
	return map[string]any{
		"$type":     string(CollectionFollow),
		"subject":   deriveDID(g.seed, g.rng.IntN(1000)).String(),
		"createdAt": g.createdAt(),
	}
}
