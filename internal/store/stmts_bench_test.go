package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// BenchmarkCommitBatch commits batches of the shapes the order stage produces most, on every
// backend:
//   - live64: 64 live commits of distinct repos, each one record, one outbox event (~600 bytes
//     of JSON) and the repo's rev, as the firehose fills a batch;
//   - snapshot200: one backfill event of 200 records, 200 outbox events and the repo's rev;
//   - live37: like live64 with 37 events, a batch size that is not a power of two.
//
// Records get new keys every iteration, so the record index and the outbox grow as they do
// in a crawl. On Postgres the time is mostly the server's: profile the benchmark
// (-cpuprofile) to see what CommitBatch itself costs.
func BenchmarkCommitBatch(b *testing.B) {
	cases := []struct {
		name         string
		events, recs int
		live         bool
	}{
		{name: "live64", events: 64, recs: 1, live: true},
		{name: "live37", events: 37, recs: 1, live: true},
		{name: "snapshot200", events: 1, recs: 200},
	}
	body := `,"type":"record","record":{"live":true,"did":"did:plc:bench00000","rev":"3lbenchrev222",` +
		`"collection":"app.bsky.feed.post","rkey":"3lbenchrkey22","action":"create",` +
		`"cid":"bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq","record":{"$type":` +
		`"app.bsky.feed.post","text":"` + strings.Repeat("hello world ", 30) + `"}}}`
	data := func(id int64) string { return fmt.Sprintf(`{"id":%d`, id) + body }
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					db := storetest.Open(b, backend.NewURL(b))
					repos := dids("bench", 1000)
					addRepos(b, db, repos...)
					ids := newIDs(b, db)
					iter := 0
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						events := make([]store.EventWrite, c.events)
						for e := range events {
							ev := store.EventWrite{DID: repos[(iter*c.events+e)%len(repos)],
								Rev: &store.RepoRev{Rev: fmt.Sprintf("rev%08d", iter), PrevData: "bafyreidata"}}
							for r := range c.recs {
								ev.Records = append(ev.Records, put("app.bsky.feed.post", fmt.Sprintf("k%08d-%04d", iter, r),
									"bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq"))
								ev.Outbox = append(ev.Outbox, store.OutboxEvent{Live: c.live, Data: data})
							}
							events[e] = ev
						}
						iter++
						b.StartTimer()
						if _, err := db.CommitBatch(b.Context(), ids, events); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iter*c.events*c.recs), "ns/record")
				})
			}
		})
	}
}

// BenchmarkClaimResync claims one repo per operation on every backend, as the backfill stage
// does before each fetch: from 10,000 pending repos (all reset to pending when claimed), and
// with nothing to claim (every state of the claim order is tried).
func BenchmarkClaimResync(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := storetest.Open(b, backend.NewURL(b))
			addRepos(b, db, dids("claim", 10_000)...)
			b.Run("pending", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, ok, err := db.ClaimResync(b.Context(), time.Now())
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						b.StopTimer()
						_, err := db.Bun().NewRaw("UPDATE repos SET state = 'pending'").Exec(b.Context())
						if err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
			})
			b.Run("none", func(b *testing.B) {
				_, err := db.Bun().NewRaw("UPDATE repos SET state = 'active'").Exec(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, ok, err := db.ClaimResync(b.Context(), time.Now()); err != nil || ok {
						b.Fatal(ok, err)
					}
				}
			})
		})
	}
}

// BenchmarkRecordIndexPage reads the record index of one repo per operation on every backend,
// in pages of 2000 as the verify stage does to check a snapshot: of a repo never indexed
// (the common case in a backfill) and of one with 200 records.
func BenchmarkRecordIndexPage(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := storetest.Open(b, backend.NewURL(b))
			for i := range 100 {
				seedRecords(b, db, fmt.Sprintf("did:plc:idx%03d", i), 200)
			}
			for _, c := range []struct {
				name string
				did  string
				want int
			}{{"empty", "did:plc:idx-none", 0}, {"200", "did:plc:idx042", 200}} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						page, err := db.RecordIndexPage(b.Context(), c.did, "", 2000)
						if err != nil || len(page) != c.want {
							b.Fatal(len(page), err)
						}
					}
				})
			}
		})
	}
}
