package store_test

import (
	"fmt"
	"testing"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

// BenchmarkAddRepos inserts 10,000 new DIDs per operation (one AddRepos call) on every
// backend; the database grows across iterations, as it does in a crawl.
func BenchmarkAddRepos(b *testing.B) {
	const n = 10_000
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := storetest.Open(b, backend.NewURL(b))
			iter := 0
			for b.Loop() {
				b.StopTimer()
				batch := dids(fmt.Sprintf("b%06d", iter), n)
				iter++
				b.StartTimer()
				inserted, err := db.AddRepos(b.Context(), batch)
				if err != nil || inserted != n {
					b.Fatalf("AddRepos: inserted %d of %d: %v", inserted, n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iter*n), "ns/repo")
		})
	}
}

// BenchmarkRepoRead reads one repo row per operation on every backend, as the verify stage
// does for every event: the whole row through bun (GetRepo) and the four columns the stage
// needs through the prepared statement (GetRepoHead).
func BenchmarkRepoRead(b *testing.B) {
	for _, backend := range storetest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := storetest.Open(b, backend.NewURL(b))
			did := "did:plc:bench"
			insert(b, db, &store.Repo{DID: did, State: store.RepoStateActive, Status: store.AccountStatusActive,
				Handle: "bench.test", Rev: "3lbenchrev222", PrevData: "bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq"})
			b.Run("GetRepo", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := db.GetRepo(b.Context(), did); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("GetRepoHead", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := db.GetRepoHead(b.Context(), did); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
