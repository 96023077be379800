package carstream_test

import (
	"bytes"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// BenchmarkOpenWalk opens, verifies and walks a 10,000-record repo,
// reading every record.
//
//	go test -run '^$' -bench OpenWalk -benchmem ./internal/atproto/carstream/
func BenchmarkOpenWalk(b *testing.B) {
	var buf bytes.Buffer
	genRepoCAR(b, 10_000, &buf, b.TempDir())
	data := buf.Bytes()
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		s, err := carstream.Open(b.Context(), bytes.NewReader(data), carstream.Options{Dir: dir})
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
