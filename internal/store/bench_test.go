package store_test

import (
	"fmt"
	"testing"

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
