package webhooksink

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tapkit/tap/pipeline"
)

// BenchmarkDeliver measures events/s POSTed to a receiver on 127.0.0.1
// that reads each body and answers 204, with the default max_concurrency.
// Each operation is one Deliver call of 1000 events (about 200 bytes each).
//
//	go test -run '^$' -bench Deliver -benchtime 3s -count 3 ./sinks/webhooksink/
func BenchmarkDeliver(b *testing.B) {
	const perCall = 1000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	batch := benchEvents(perCall)
	for _, size := range []int{1, 100} {
		b.Run("batch_size="+strconv.Itoa(size), func(b *testing.B) {
			cfg := *createDefaultConfig().(*Config)
			cfg.BatchSize = size
			s := newSink(cfg, deps{url: srv.URL, userAgent: testUserAgent}, nil)
			b.Cleanup(func() { _ = s.Shutdown(b.Context()) })
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Deliver(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perCall)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// benchEvents returns n record-sized events.
func benchEvents(n int) []pipeline.Delivery {
	out := events(n)
	for i := range out {
		out[i].JSON = append(out[i].JSON[:len(out[i].JSON)-2], `,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}`...)
	}
	return out
}
