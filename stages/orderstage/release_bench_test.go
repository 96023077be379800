package orderstage

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/pipeline/pipelinetest"
)

// BenchmarkRelease measures events per second through the delivery engine: committed events
// (1000 DIDs, every tenth live) are added in batches of 100 as the committer does, within the
// default capacity, released under the per-DID rules, delivered to sinks that ack at once, and
// their ids deleted from a SQLite outbox in batches. The clock stops when every sink acked
// every event.
func BenchmarkRelease(b *testing.B) {
	for _, sinks := range []int{1, 2} {
		b.Run(fmt.Sprintf("sinks=%d", sinks), func(b *testing.B) {
			ctx := b.Context()
			s := New(Config{}, storetest.OpenSQLite(b), nil)
			named := make([]pipeline.NamedSink, sinks)
			for i := range named {
				named[i] = pipeline.NamedSink{ID: pipeline.ID{Type: "nop", Name: fmt.Sprint(i)}, Sink: &pipelinetest.NopSink{}}
			}
			dl := s.startDelivery(named, 1)
			defer func() {
				if err := dl.shutdown(context.Background(), s.log); err != nil {
					b.Error(err)
				}
			}()
			json := []byte(`{"id":1,"type":"record","record":` + strings.Repeat("x", 300) + `}`)
			ds := make([]pipeline.Delivery, b.N)
			for i := range ds {
				ds[i] = pipeline.Delivery{ID: uint64(i + 1), DID: fmt.Sprintf("did:plc:bench%04d", i%1000), Live: i%10 == 0, JSON: json}
			}
			b.ResetTimer()
			for len(ds) > 0 {
				if err := dl.eng.waitRoom(ctx, true); err != nil {
					b.Fatal(err)
				}
				n := min(100, len(ds))
				dl.eng.add(ds[:n])
				ds = ds[n:]
			}
			err := dl.eng.room.wait(ctx, func() (bool, error) { return dl.eng.acked.Load() == uint64(b.N), nil })
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
