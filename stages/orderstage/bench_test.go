package orderstage_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"

	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/stages/orderstage"
)

// BenchmarkCommit commits single-op live commits (a post with an image blob) from 8 concurrent
// lanes, each with its own DIDs, as the firehose does; it reports committed events per second.
// Every event renders its JSON and writes one record index row, one outbox row and the repo's
// rev, grouped into shared transactions by the committer.
func BenchmarkCommit(b *testing.B) {
	const lanes, didsPerLane = 8, 100
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := storetest.Open(b, backend.NewURL(b))
			dids := make([]string, lanes*didsPerLane)
			for i := range dids {
				dids[i] = fmt.Sprintf("did:plc:bench%05d", i)
			}
			addRepos(b, db, dids...)
			blob, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte("img"))
			if err != nil {
				b.Fatal(err)
			}
			rec := op(b, pipeline.ActionCreate, "x", map[string]any{
				"$type": post, "text": strings.Repeat("hello world ", 15), "createdAt": "2024-01-01T00:00:00.000Z",
				"langs": []any{"en"},
				"embed": map[string]any{"$type": "app.bsky.embed.images", "images": []any{map[string]any{
					"alt": "", "image": atdata.Blob{Ref: atdata.CIDLink(blob), MimeType: "image/jpeg", Size: 12345}}}},
			})
			s := startStage(b, db, orderstage.Config{})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for lane := range lanes {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						o := rec
						o.RKey = rkeyOf(i)
						did := dids[lane*didsPerLane+int(i)%didsPerLane]
						if err := process(b, s, records(did, true, true, fmt.Sprintf("rev%012d", i), o)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(st.Events)/float64(max(st.Transactions, 1)), "events/tx")
		})
	}
}

// rkeyOf returns a distinct record key for i.
func rkeyOf(i int64) syntax.RecordKey { return syntax.RecordKey(fmt.Sprintf("k%012d", i)) }
