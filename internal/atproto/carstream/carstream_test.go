package carstream_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/tapkit/tap/internal/atproto/carstream"
)

// open runs carstream.Open on data and closes the snapshot at cleanup.
// Unless opts sets them, Dir is a fresh directory and MemoryBytes that of
// the store mode the test runs under (forEachStore).
func open(t testing.TB, data []byte, opts carstream.Options) (*carstream.Snapshot, error) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.MemoryBytes == 0 {
		opts.MemoryBytes = memoryBytes(t)
	}
	s, err := carstream.Open(t.Context(), bytes.NewReader(data), opts)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// mustOpen is open that fails the test on error.
func mustOpen(t testing.TB, data []byte) *carstream.Snapshot {
	t.Helper()
	s, err := open(t, data, carstream.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// walk collects every entry Walk yields.
func walk(t testing.TB, s *carstream.Snapshot) ([]entry, error) {
	t.Helper()
	var got []entry
	err := s.Walk(t.Context(), func(path string, c cid.Cid) error {
		got = append(got, entry{path, c})
		return nil
	})
	return got, err
}

// openAndWalk opens data and walks it, returning the first error.
func openAndWalk(t testing.TB, data []byte) error {
	t.Helper()
	s, err := open(t, data, carstream.Options{})
	if err != nil {
		return err
	}
	_, err = walk(t, s)
	return err
}

func wantErr(t testing.TB, err, sentinel error, mentions ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want %v", err, sentinel)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func TestRoundTrip(t *testing.T) { forEachStore(t, testRoundTrip) }

func testRoundTrip(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(1, 1)), 300))
	data := f.car(t)
	s := mustOpen(t, data)

	if got := s.CommitCID(); got != f.root.cid {
		t.Errorf("CommitCID = %s, want %s", got, f.root.cid)
	}
	if c := s.Commit(); c.DID != f.commit.DID || c.Rev != f.commit.Rev || c.Data != f.commit.Data {
		t.Errorf("Commit = %+v, want %+v", c, f.commit)
	}
	got, err := walk(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, f.entries) {
		t.Fatalf("Walk yielded %d entries, want %d (first %v)", len(got), len(f.entries), got[:min(3, len(got))])
	}
	i := 0
	err = s.WalkRecords(t.Context(), func(path string, c cid.Cid, rec []byte) error {
		if !bytes.Equal(rec, f.records[i].data) || path != f.entries[i].path {
			t.Errorf("record %d (%s): bytes differ", i, path)
		}
		i++
		return nil
	})
	if err != nil || i != len(f.records) {
		t.Fatalf("WalkRecords: %v after %d records", err, i)
	}
	for _, b := range f.blocks() {
		rec, err := s.Block(b.cid)
		if err != nil || !bytes.Equal(rec, b.data) {
			t.Fatalf("Block(%s) = %d bytes, %v", b.cid, len(rec), err)
		}
	}
	st := s.Stats()
	want := carstream.Stats{Bytes: int64(len(data)), Blocks: len(f.blocks()), Nodes: 2 * int64(len(f.nodes)), Records: 600}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestSignature(t *testing.T) { forEachStore(t, testSignature) }

func testSignature(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(2, 2)), 10))
	s := mustOpen(t, f.car(t))
	pub, err := f.priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySignature(pub); err != nil {
		t.Errorf("right key: %v", err)
	}
	other, err := newKey(t).PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.VerifySignature(other), carstream.ErrBadSignature)
}

func TestEmptyRepo(t *testing.T) { forEachStore(t, testEmptyRepo) }

func testEmptyRepo(t *testing.T) {
	f := newFixture(t, nil)
	s := mustOpen(t, f.car(t))
	got, err := walk(t, s)
	if err != nil || len(got) != 0 {
		t.Fatalf("Walk = %v, %v; want nothing", got, err)
	}
	if st := s.Stats(); st.Blocks != 2 || st.Nodes != 1 || st.Records != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestBlockOrderDoesNotMatter(t *testing.T) { forEachStore(t, testBlockOrderDoesNotMatter) }

func testBlockOrderDoesNotMatter(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(3, 3)), 200))
	for seed := range uint64(5) {
		bs := f.blocks()
		rand.New(rand.NewPCG(seed, 0)).Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
		got, err := walk(t, mustOpen(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, bs)))
		if err != nil || !slices.Equal(got, f.entries) {
			t.Fatalf("seed %d: %d entries, %v", seed, len(got), err)
		}
	}
}

func TestRepeatedAndExtraBlocks(t *testing.T) { forEachStore(t, testRepeatedAndExtraBlocks) }

func testRepeatedAndExtraBlocks(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(4, 4)), 50))
	extra := recordBlock(t, "app.bsky.feed.post/notinthetree")
	bs := slices.Concat(f.blocks(), f.blocks()[:10], []block{extra})
	s := mustOpen(t, writeCAR(t, 1, []cid.Cid{f.root.cid}, bs))
	got, err := walk(t, s)
	if err != nil || !slices.Equal(got, f.entries) {
		t.Fatalf("%d entries, %v", len(got), err)
	}
	if s.Stats().Blocks != len(bs) {
		t.Errorf("Blocks = %d, want %d", s.Stats().Blocks, len(bs))
	}
	if b, err := s.Block(extra.cid); err != nil || !bytes.Equal(b, extra.data) {
		t.Errorf("extra block: %v", err)
	}
}

func TestBlockNotFound(t *testing.T) { forEachStore(t, testBlockNotFound) }

func testBlockNotFound(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(5, 5)), 5))
	s := mustOpen(t, f.car(t))
	missing := recordBlock(t, "app.bsky.feed.post/missing").cid
	_, err := s.Block(missing)
	wantErr(t, err, carstream.ErrNotFound, missing.String())
	// a CID that shares the first 8 digest bytes with a present block
	forged := forgeSamePrefix(t, f.records[0].cid)
	_, err = s.Block(forged)
	wantErr(t, err, carstream.ErrNotFound)
}

func TestCloseRemovesSpillFile(t *testing.T) { forEachStore(t, testCloseRemovesSpillFile) }

func testCloseRemovesSpillFile(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(6, 6)), 5))
	dir := t.TempDir()
	s, err := carstream.Open(t.Context(), bytes.NewReader(f.car(t)), carstream.Options{Dir: dir, MemoryBytes: memoryBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spill dir not empty after Close: %v", ents)
	}
	_, err = s.Block(f.records[0].cid)
	wantErr(t, err, carstream.ErrClosed)
	_, err = walk(t, s)
	wantErr(t, err, carstream.ErrClosed)
}

func TestFailedOpenLeavesNothing(t *testing.T) { forEachStore(t, testFailedOpenLeavesNothing) }

func testFailedOpenLeavesNothing(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(7, 7)), 20))
	data := f.car(t)
	dir := t.TempDir()
	_, err := carstream.Open(t.Context(), bytes.NewReader(data[:len(data)-3]), carstream.Options{Dir: dir, MemoryBytes: memoryBytes(t)})
	wantErr(t, err, carstream.ErrTruncated)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spill dir not empty after a failed Open: %v", ents)
	}
}

func TestContextCanceled(t *testing.T) { forEachStore(t, testContextCanceled) }

func testContextCanceled(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(8, 8)), 20))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := carstream.Open(ctx, bytes.NewReader(f.car(t)), carstream.Options{Dir: t.TempDir(), MemoryBytes: memoryBytes(t)})
	wantErr(t, err, context.Canceled)

	s := mustOpen(t, f.car(t))
	err = s.Walk(ctx, func(string, cid.Cid) error { return nil })
	wantErr(t, err, context.Canceled)
}

func TestWalkStopsAtCallbackError(t *testing.T) { forEachStore(t, testWalkStopsAtCallbackError) }

func testWalkStopsAtCallbackError(t *testing.T) {
	f := newFixture(t, randomPaths(rand.New(rand.NewPCG(9, 9)), 20))
	s := mustOpen(t, f.car(t))
	stop := errors.New("stop")
	n := 0
	err := s.Walk(t.Context(), func(string, cid.Cid) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Walk = %v after %d calls, want stop after 3", err, n)
	}
}

func TestConcurrentReaders(t *testing.T) { forEachStore(t, testConcurrentReaders) }

func testConcurrentReaders(t *testing.T) {
	f := newFixture(t, randomPaths(newRand(12), 300))
	s := mustOpen(t, f.car(t))
	errs := make(chan error, 4)
	for range 2 {
		go func() {
			got, err := walk(t, s)
			if err == nil && !slices.Equal(got, f.entries) {
				err = errors.New("walk differs")
			}
			errs <- err
		}()
		go func() {
			for _, b := range f.records {
				if data, err := s.Block(b.cid); err != nil || !bytes.Equal(data, b.data) {
					errs <- errors.Join(err, errors.New("block differs"))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
