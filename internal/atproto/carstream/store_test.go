package carstream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// storeModes are the ways a Snapshot can hold its blocks. Every test that
// opens CARs runs once per mode (forEachStore).
var storeModes = []struct {
	name        string
	memoryBytes int
}{
	{"memory", 1 << 30}, // every test CAR fits
	{"spill", -1},       // a spill file from the first block
	{"crossing", 2048},  // most test CARs cross the threshold mid-stream
}

// storeModeOf maps the name of each running forEachStore subtest to its
// Options.MemoryBytes.
var storeModeOf sync.Map

// forEachStore runs fn as one subtest per store mode; the test helpers
// (open, mustOpen, openAndWalk, memoryBytes) use the mode of the subtest
// they run under.
func forEachStore(t *testing.T, fn func(t *testing.T)) {
	for _, m := range storeModes {
		t.Run(m.name, func(t *testing.T) {
			storeModeOf.Store(t.Name(), m.memoryBytes)
			t.Cleanup(func() { storeModeOf.Delete(t.Name()) })
			fn(t)
		})
	}
}

// memoryBytes returns the Options.MemoryBytes of the store mode t (or a
// parent test of t) runs under, or 0 (the default) outside forEachStore.
func memoryBytes(t testing.TB) int {
	name := t.Name()
	for {
		if v, ok := storeModeOf.Load(name); ok {
			return v.(int)
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return 0
		}
		name = name[:i]
	}
}

// storedBytes is how many bytes of blocks (CIDs and data, without the
// frame lengths and the header) a CAR holds.
func storedBytes(t testing.TB, data []byte) int {
	n := 0
	for _, off := range frameStarts(t, data) {
		l, _ := binary.Uvarint(data[off:])
		n += int(l)
	}
	return n
}

// record is what WalkRecords yields.
type record struct {
	path string
	cid  cid.Cid
	data string
}

func walkRecords(t testing.TB, s *carstream.Snapshot) []record {
	t.Helper()
	var out []record
	err := s.WalkRecords(t.Context(), func(path string, c cid.Cid, data []byte) error {
		out = append(out, record{path, c, string(data)})
		return nil
	})
	if err != nil {
		t.Fatalf("WalkRecords: %v", err)
	}
	return out
}

func TestThresholdCrossedMidStream(t *testing.T) {
	var buf bytes.Buffer
	info := genRepoCAR(t, 3000, &buf, t.TempDir())
	data := buf.Bytes()
	stored := storedBytes(t, data)
	s, err := open(t, data, carstream.Options{MemoryBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	want := walkRecords(t, s)
	if len(want) != info.records || carstream.Spilled(s) {
		t.Fatalf("in memory: %d records, spilled %v", len(want), carstream.Spilled(s))
	}
	for _, limit := range []int{1, 100, stored / 3, stored - 1, stored, stored + 1} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			s, err := open(t, data, carstream.Options{MemoryBytes: limit})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := carstream.Spilled(s), limit < stored; got != want {
				t.Errorf("spilled = %v with %d of %d bytes in memory, want %v", got, limit, stored, want)
			}
			if got := walkRecords(t, s); !slices.Equal(got, want) {
				t.Fatalf("walked %d records, differing from the in-memory walk", len(got))
			}
			for _, r := range want[:100] {
				if b, err := s.Block(r.cid); err != nil || string(b) != r.data {
					t.Fatalf("Block(%s): %v", r.cid, err)
				}
			}
			if st := s.Stats(); st.Bytes != int64(len(data)) || st.Records != int64(info.records) {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func TestSmallCARCreatesNoFile(t *testing.T) {
	var buf bytes.Buffer
	genRepoCAR(t, 50, &buf, t.TempDir())
	data := buf.Bytes()
	dir := t.TempDir()
	s, err := carstream.Open(t.Context(), bytes.NewReader(data), carstream.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if carstream.Spilled(s) {
		t.Error("a 50-record CAR was spilled with the default threshold")
	}
	err = s.Walk(t.Context(), func(string, cid.Cid) error {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
			return fmt.Errorf("spill dir during the walk: %v, %v", ents, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The files would be unlinked at once: a directory that does not
	// exist shows that none is even created.
	missing := carstream.Options{Dir: filepath.Join(dir, "missing")}
	s, err = carstream.Open(t.Context(), bytes.NewReader(data), missing)
	if err != nil {
		t.Fatalf("in memory, with no spill dir: %v", err)
	}
	if _, err := walk(t, s); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	missing.MemoryBytes = -1
	if _, err := carstream.Open(t.Context(), bytes.NewReader(data), missing); err == nil {
		t.Fatal("spilling to a missing dir did not fail")
	}
}

// TestPooledBuffersDoNotLeak alternates two snapshots, so that each
// reuses the pooled buffers (blocks, index, walker) of the other.
func TestPooledBuffersDoNotLeak(t *testing.T) { forEachStore(t, testPooledBuffersDoNotLeak) }

func testPooledBuffersDoNotLeak(t *testing.T) {
	a := newFixture(t, randomPaths(newRand(20), 300))
	b := newFixture(t, randomPaths(newRand(21), 30))
	dataA, dataB := a.car(t), b.car(t)
	for i := range 20 {
		sa := mustOpen(t, dataA)
		if got, err := walk(t, sa); err != nil || !slices.Equal(got, a.entries) {
			t.Fatalf("round %d: A walked %d entries, %v", i, len(got), err)
		}
		if err := sa.Close(); err != nil {
			t.Fatal(err)
		}
		sb := mustOpen(t, dataB)
		if got, err := walk(t, sb); err != nil || !slices.Equal(got, b.entries) {
			t.Fatalf("round %d: B walked %d entries, %v", i, len(got), err)
		}
		j := 0
		err := sb.WalkRecords(t.Context(), func(_ string, _ cid.Cid, data []byte) error {
			if !bytes.Equal(data, b.records[j].data) {
				return fmt.Errorf("record %d of B differs", j)
			}
			j++
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		for _, r := range a.records {
			if _, err := sb.Block(r.cid); !errors.Is(err, carstream.ErrNotFound) {
				t.Fatalf("round %d: B has A's block %s: %v", i, r.cid, err)
			}
		}
		if st := sb.Stats(); st.Blocks != len(b.blocks()) || st.Bytes != int64(len(dataB)) {
			t.Fatalf("round %d: B stats %+v", i, st)
		}
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloseDuringWalk(t *testing.T) { forEachStore(t, testCloseDuringWalk) }

func testCloseDuringWalk(t *testing.T) {
	f := newFixture(t, randomPaths(newRand(22), 200))
	s := mustOpen(t, f.car(t))
	n := 0
	err := s.Walk(t.Context(), func(string, cid.Cid) error {
		if n++; n == 3 {
			return s.Close()
		}
		return nil
	})
	if !errors.Is(err, carstream.ErrClosed) || n != 3 {
		t.Fatalf("Walk = %v after %d records, want ErrClosed after 3", err, n)
	}
	if st := s.Stats(); st.Blocks != len(f.blocks()) || st.Records != 3 {
		t.Errorf("Stats after Close = %+v", st)
	}
}

// TestConcurrentOpens opens, walks and closes CARs of every size from
// several goroutines at once, so that -race sees the pools shared.
func TestConcurrentOpens(t *testing.T) {
	type car struct {
		data    []byte
		opts    carstream.Options
		entries []entry
	}
	var cars []car
	for i, n := range []int{5, 60, 300} {
		f := newFixture(t, randomPaths(newRand(uint64(30+i)), n))
		for _, mb := range []int{0, 2048, -1} {
			cars = append(cars, car{f.car(t), carstream.Options{Dir: t.TempDir(), MemoryBytes: mb}, f.entries})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 * len(cars) {
				c := cars[(g+i)%len(cars)]
				s, err := carstream.Open(t.Context(), bytes.NewReader(c.data), c.opts)
				if err != nil {
					errs <- err
					return
				}
				var got []entry
				err = s.Walk(t.Context(), func(path string, c cid.Cid) error {
					got = append(got, entry{path, c})
					return nil
				})
				if cerr := s.Close(); err == nil {
					err = cerr
				}
				if err == nil && !slices.Equal(got, c.entries) {
					err = fmt.Errorf("goroutine %d: walk of %d records differs", g, len(c.entries))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMemoryBytesOption(t *testing.T) {
	f := newFixture(t, randomPaths(newRand(23), 20))
	data := f.car(t)
	for _, tc := range []struct {
		memoryBytes int
		spilled     bool
	}{{0, false}, {-1, true}, {1, true}, {len(data), false}} {
		s, err := open(t, data, carstream.Options{MemoryBytes: tc.memoryBytes})
		if err != nil {
			t.Fatal(err)
		}
		if carstream.Spilled(s) != tc.spilled {
			t.Errorf("MemoryBytes %d: spilled %v, want %v", tc.memoryBytes, carstream.Spilled(s), tc.spilled)
		}
	}
}
