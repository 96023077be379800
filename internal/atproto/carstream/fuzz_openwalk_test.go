package carstream_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/tapkit/tap/internal/atproto/carstream"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzOpenWalk")

// fuzzKey is the fixed signing key of the FuzzOpenWalk seeds, so that the
// committed seeds verify against it.
func fuzzKey(t testing.TB) atcrypto.PrivateKey {
	t.Helper()
	priv, err := atcrypto.ParsePrivateBytesK256(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// fuzzSeeds are small repo CARs signed with fuzzKey, a truncated one and
// one with a flipped byte.
func fuzzSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	seeds := map[string][]byte{}
	var valid []byte
	for i, n := range []int{1, 4, 20, 60} {
		fx := newFixture(t, randomPaths(newRand(uint64(100+i)), n))
		fx.priv = fuzzKey(t)
		fx.resign(t, nil)
		valid = fx.car(t)
		seeds[fmt.Sprintf("repo-%d-records", n)] = valid
	}
	empty := newFixture(t, nil)
	empty.priv = fuzzKey(t)
	empty.resign(t, nil)
	seeds["repo-empty"] = empty.car(t)
	seeds["truncated"] = valid[:len(valid)*2/3]
	flipped := bytes.Clone(valid)
	flipped[len(flipped)-10] ^= 0x01
	seeds["flipped-byte"] = flipped
	return seeds
}

// TestWriteFuzzOpenWalkSeeds rewrites the committed seed corpus when run
// with -update-fuzz-seeds.
func TestWriteFuzzOpenWalkSeeds(t *testing.T) {
	if !*updateFuzzSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite testdata/fuzz/FuzzOpenWalk")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenWalk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// errorKinds are the documented errors Open and WalkRecords may return.
var errorKinds = []error{
	carstream.ErrTruncated, carstream.ErrBadHeader, carstream.ErrBadBlock,
	carstream.ErrHashMismatch, carstream.ErrTooLarge, carstream.ErrNoCommit,
	carstream.ErrBadCommit, carstream.ErrPartialTree, carstream.ErrBadTree,
	carstream.ErrMissingRecord,
}

// checkErrorKind fails unless err is one of errorKinds with a message that
// starts with the package's prefix.
func checkErrorKind(t *testing.T, op string, err error) {
	t.Helper()
	for _, k := range errorKinds {
		if errors.Is(err, k) {
			if !strings.HasPrefix(err.Error(), "carstream: ") {
				t.Fatalf("%s: error %q does not start with the package prefix", op, err)
			}
			return
		}
	}
	t.Fatalf("%s: error %q (%T) is none of the documented kinds", op, err, err)
}

// FuzzOpenWalk opens arbitrary bytes as a repo CAR under small limits and
// walks its records. Beyond not panicking, it checks that every error is a
// documented kind, that a walk that succeeds yields strictly increasing
// paths whose bytes hash to their CIDs, that the signature check either
// passes or wraps ErrBadSignature, and that a closed snapshot answers
// ErrClosed. FuzzOpen (fuzz_test.go) fuzzes the same entry point without
// these properties; FuzzTree fuzzes MST nodes inside a valid CAR.
func FuzzOpenWalk(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	pub, err := fuzzKey(f).PublicKey()
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Small limits keep every execution fast; a negative MemoryBytes
		// on some inputs exercises the spill file too.
		opts := carstream.Options{Dir: dir, MaxBytes: 1 << 16, MaxBlockSize: 1 << 14, MaxBlocks: 512, MemoryBytes: 1 << 15}
		if len(data)%2 == 1 {
			opts.MemoryBytes = -1
		}
		s, err := carstream.Open(t.Context(), bytes.NewReader(data), opts)
		if err != nil {
			if s != nil {
				t.Fatal("Open returned a snapshot with an error")
			}
			checkErrorKind(t, "Open", err)
			return
		}
		defer s.Close()
		if err := s.VerifySignature(pub); err != nil && !errors.Is(err, carstream.ErrBadSignature) {
			t.Fatalf("VerifySignature: %v does not wrap ErrBadSignature", err)
		}
		var last string
		n := 0
		err = s.WalkRecords(t.Context(), func(path string, c cid.Cid, rec []byte) error {
			if n > 0 && path <= last {
				t.Fatalf("path %q after %q: not strictly increasing", path, last)
			}
			last = path
			n++
			checkRecordCID(t, path, c, rec)
			return nil
		})
		if err != nil {
			checkErrorKind(t, "WalkRecords", err)
		} else if got := s.Stats().Records; got != int64(n) {
			t.Fatalf("Stats().Records = %d after a walk of %d records", got, n)
		}
		if _, err := s.Block(s.CommitCID()); err != nil {
			t.Fatalf("Block(commit) before Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.WalkRecords(t.Context(), func(string, cid.Cid, []byte) error { return nil }); !errors.Is(err, carstream.ErrClosed) {
			t.Fatalf("WalkRecords after Close = %v, want ErrClosed", err)
		}
		if _, err := s.Block(s.CommitCID()); !errors.Is(err, carstream.ErrClosed) {
			t.Fatalf("Block after Close = %v, want ErrClosed", err)
		}
	})
}

// checkRecordCID recomputes a walked record's CID from its bytes, with
// go-cid and with crypto/sha256 directly.
func checkRecordCID(t *testing.T, path string, c cid.Cid, rec []byte) {
	t.Helper()
	want, err := c.Prefix().Sum(rec)
	if err != nil || !want.Equals(c) {
		t.Fatalf("record %s: bytes hash to %v (err %v), CID is %s", path, want, err, c)
	}
	dm, err := multihash.Decode(c.Hash())
	if err != nil {
		t.Fatalf("record %s: CID %s: %v", path, c, err)
	}
	sum := sha256.Sum256(rec)
	if dm.Code != multihash.SHA2_256 || !bytes.Equal(dm.Digest, sum[:]) {
		t.Fatalf("record %s: CID %s is not the sha2-256 of its bytes", path, c)
	}
}

// TestFuzzOpenWalkSeedsAreValid keeps the committed repo seeds meaningful:
// they open, verify against fuzzKey and walk, so the fuzzer starts from
// inputs that reach the record checks.
func TestFuzzOpenWalkSeedsAreValid(t *testing.T) {
	pub, err := fuzzKey(t).PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpenWalk", "repo-*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no repo seeds: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := strings.Cut(string(raw), "\n")
		var data []byte
		if _, err := fmt.Sscanf(strings.TrimSpace(body), "[]byte(%q)", &data); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		s := mustOpen(t, data)
		if err := s.VerifySignature(pub); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if _, err := walk(t, s); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
