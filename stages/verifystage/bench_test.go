package verifystage

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/ipfs/go-cid"

	"github.com/tapkit/tap/internal/atproto"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
	"github.com/tapkit/tap/internal/testnet"
	"github.com/tapkit/tap/pipeline"
)

// benchHistory is how many records the benchmark account holds before its
// measured commits, so that their CAR slices carry a realistic MST path.
// A multiple of 100.
const benchHistory = 1000

// BenchmarkVerifyCommit verifies real signed Sync 1.1 #commit events of a
// testnet account (1 and 10 create ops, read off the relay by tap's
// firehose client) with the stage's own code, against a SQLite store
// holding the repo's previous rev and data CID and tap's cached identity
// directory (warm, as for a repo that commits often).
//
//	go test -run '^$' -bench VerifyCommit -benchmem ./stages/verifystage/
//
// Each commit has five sub-benchmarks:
//   - full: Process, everything the stage does for the event (repo row,
//     rev order, signature, inversion, prevData chain, record ops);
//   - signature: signedCommit (commit block from the CAR slice, structure,
//     DID, key from the directory, k256 signature);
//   - inversion: repo.VerifyCommitMessage, as Process calls it (CAR slice
//     into a partial MST, ops inverted back to prevData);
//   - repo: the repo row read (store.GetRepoHead: rev, prevData, handle,
//     status), from SQLite;
//   - key: publicKey (directory lookup, then the key parsed from the DID
//     document, cached by the stage).
func BenchmarkVerifyCommit(b *testing.B) {
	fx := newBenchFixture(b)
	for _, c := range fx.commits {
		b.Run(c.name, func(b *testing.B) {
			fx.setPrevious(b, c.ev)
			b.Run("full", func(b *testing.B) { fx.benchFull(b, c.ev) })
			b.Run("signature", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := fx.stage.signedCommit(b.Context(), c.ev.DID, c.ev.Commit.Blocks); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("inversion", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := repo.VerifyCommitMessage(b.Context(), c.ev.Commit); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("repo", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, ok, err := fx.stage.repo(b.Context(), c.ev.DID); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			})
			b.Run("key", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := fx.stage.publicKey(b.Context(), c.ev.DID, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchFixture is a testnet account with benchHistory records and two
// live commits after them, and a stage with a store tracking the account.
type benchFixture struct {
	db      *store.DB
	stage   *Stage
	commits []benchCommit
}

type benchCommit struct {
	name string
	ev   *pipeline.Event
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	n := startBenchNet(b)
	accts, err := n.CreateAccounts(1)
	if err != nil {
		b.Fatal(err)
	}
	a := accts[0]
	for i := 0; i < benchHistory; i += 100 {
		if _, err := a.Apply(testnet.FixedWrites(i, 100)...); err != nil {
			b.Fatal(err)
		}
	}
	after := n.LastSeq()
	if _, err := a.Apply(testnet.FixedWrites(benchHistory, 1)...); err != nil {
		b.Fatal(err)
	}
	if _, err := a.Apply(testnet.FixedWrites(benchHistory+1, 10)...); err != nil {
		b.Fatal(err)
	}
	evs := readCommits(b, n, after, 2)

	db := storetest.OpenSQLite(b)
	if _, err := db.AddRepos(b.Context(), []string{a.DID().String()}); err != nil {
		b.Fatal(err)
	}
	dir := atproto.NewDirectory(atproto.DirectoryOptions{PLCURL: n.PLCURL(), CacheSize: 100, DNSResolver: n.DNSAddr()})
	fx := &benchFixture{
		db:      db,
		stage:   New(Config{SnapshotBatch: DefaultSnapshotBatch}, db, dir, nil),
		commits: []benchCommit{{"commit-1op", evs[0]}, {"commit-10ops", evs[1]}},
	}
	if _, err := fx.stage.publicKey(b.Context(), a.DID(), false); err != nil { // warm the cache
		b.Fatal(err)
	}
	return fx
}

// setPrevious makes the stored repo state the one ev's commit follows:
// active, at its since rev and prevData.
func (fx *benchFixture) setPrevious(b *testing.B, ev *pipeline.Event) {
	b.Helper()
	msg := ev.Commit
	if msg.Since == nil || msg.PrevData == nil {
		b.Fatalf("commit %s has no since or prevData", msg.Rev)
	}
	_, err := fx.db.Bun().NewUpdate().Model((*store.Repo)(nil)).
		Set("state = ?", store.RepoStateActive).Set("rev = ?", *msg.Since).
		Set("prev_data = ?", cid.Cid(*msg.PrevData).String()).
		Where("did = ?", ev.DID.String()).Exec(b.Context())
	if err != nil {
		b.Fatal(err)
	}
}

// benchFull runs Process on ev, which must come out as one Records event.
func (fx *benchFixture) benchFull(b *testing.B, ev *pipeline.Event) {
	want := len(ev.Commit.Ops)
	var bad error
	next := func(_ context.Context, out *pipeline.Event) error {
		if out.Kind != pipeline.KindRecords || len(out.Records.Ops) != want {
			bad = fmt.Errorf("got a %s event, want records with %d ops", out.Kind, want)
		}
		return nil
	}
	desyncs := fx.stage.Stats.Desyncs.Load()
	b.ReportAllocs()
	for b.Loop() {
		if err := fx.stage.Process(b.Context(), ev, next); err != nil {
			b.Fatal(err)
		}
	}
	if bad != nil {
		b.Fatal(bad)
	}
	if d := fx.stage.Stats.Desyncs.Load() - desyncs; d > 0 {
		b.Fatalf("%d commits failed verification", d)
	}
}

// startBenchNet runs a testnet for one benchmark.
func startBenchNet(b *testing.B) *testnet.Network {
	b.Helper()
	var n *testnet.Network
	var err error
	// The testnet's DNS responder takes the TCP port of its UDP port, which
	// another process may hold: retry such a start.
	for range 5 {
		if n, err = testnet.Start(b.Context(), testnet.Options{}); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.Close)
	return n
}

// errEnough ends the firehose read of readCommits.
var errEnough = errors.New("enough events")

// readCommits reads the relay after cursor with tap's firehose client and
// returns the first count #commit events, as the firehose source submits
// them.
func readCommits(b *testing.B, n *testnet.Network, cursor int64, count int) []*pipeline.Event {
	b.Helper()
	var out []*pipeline.Event
	opts := atproto.FirehoseOptions{
		RelayURL: n.RelayURL(),
		Cursor:   func(context.Context) (int64, error) { return cursor, nil },
	}
	err := atproto.RunFirehose(b.Context(), opts, func(_ context.Context, fe atproto.FirehoseEvent) error {
		if fe.Commit != nil {
			out = append(out, &pipeline.Event{
				Kind: pipeline.KindCommit, DID: fe.DID, Seq: fe.Seq, Live: true, Received: fe.Received, Commit: fe.Commit,
			})
		}
		if len(out) == count {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		b.Fatal(err)
	}
	return out
}
