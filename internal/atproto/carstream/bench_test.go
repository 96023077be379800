package carstream_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// BenchmarkOpenWalk opens, verifies and walks generated repos of 50
// (a typical account, ~15 KB of CAR), 2,000 (~580 KB) and 10,000 records
// (~2.9 MB), reading every record.
//
//	go test -run '^$' -bench OpenWalk -benchmem ./internal/atproto/carstream/
func BenchmarkOpenWalk(b *testing.B) {
	for _, n := range []int{50, 2_000, 10_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			var buf bytes.Buffer
			genRepoCAR(b, n, &buf, b.TempDir())
			benchOpenWalk(b, buf.Bytes(), carstream.Options{Dir: b.TempDir()})
		})
	}
}

func benchOpenWalk(b *testing.B, data []byte, opts carstream.Options) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		s, err := carstream.Open(b.Context(), bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		err = s.WalkRecords(b.Context(), func(string, cid.Cid, []byte) error {
			records++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
