package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/testnet"
)

// activeTap starts a network of n accounts with history, tap tracking all
// of them, and waits until every repo is backfilled.
func activeTap(t *testing.T, n, records int) (*testnet.Network, []*testnet.Account, *tapInstance) {
	t.Helper()
	net, accts := startNetwork(t, n, records)
	ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
	ti.addRepos(accts...)
	for _, a := range accts {
		ti.waitFor("backfill", func() bool { return ti.state(a.DID()) == store.RepoStateActive })
	}
	return net, accts, ti
}

// converged waits until the repo is active and tap's delivered records
// equal the testnet's ground truth.
func (ti *tapInstance) converged(a *testnet.Account) {
	ti.t.Helper()
	ti.waitFor("convergence of "+a.DID().String(), func() bool {
		if ti.state(a.DID()) != store.RepoStateActive {
			return false
		}
		got, want := current(recordsOf(ti.events(), a.DID())), truth(ti.t, a)
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}

// Broken live commits mark the repo desynchronized with a visible reason;
// the resync then brings it back with nothing lost.
func TestE2ECommitFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		fault  testnet.CommitFault
		reason string
	}{
		"bad signature": {testnet.CommitFaultBadSignature, "signature"},
		"broken chain":  {testnet.CommitFaultSkipped, "prevData"},
		"bad prevData":  {testnet.CommitFaultBadPrevData, "invalid commit"},
	} {
		t.Run(name, func(t *testing.T) {
			net, accts, ti := activeTap(t, 1, 5)
			a := accts[0]
			net.Faults().CorruptNextCommit(a.DID(), tc.fault)
			_, err := a.CreateRecord(post, "broken", rec("x"))
			require.NoError(t, err)
			if tc.fault == testnet.CommitFaultSkipped {
				_, err = a.CreateRecord(post, "after", rec("y")) // its prevData breaks the chain
				require.NoError(t, err)
			}
			ti.waitFor("desync recorded", func() bool {
				return strings.Contains(ti.out.String(), `"msg":"repo desynchronized"`)
			})
			ti.converged(a)
			require.Contains(t, ti.out.String(), tc.reason)
		})
	}
}

// A replayed (old) rev and malformed frames are skipped without effect.
func TestE2EReplaysAndJunkFrames(t *testing.T) {
	net, accts, ti := activeTap(t, 1, 3)
	a := accts[0]
	_, err := a.CreateRecord(post, "one", rec("1"))
	require.NoError(t, err)
	_, err = net.Faults().ReplayLastCommit(a.DID())
	require.NoError(t, err)
	_, err = net.Faults().EmitMalformedFrame()
	require.NoError(t, err)
	_, err = net.Faults().EmitTextFrame()
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "two", rec("2"))
	require.NoError(t, err)
	ti.waitFor("two live events", func() bool { return len(recordsOf(ti.events(), a.DID())) == 5 })
	ti.converged(a)
	recs := recordsOf(ti.events(), a.DID())
	require.Equal(t, []string{"one", "two"}, []string{recs[3].RKey, recs[4].RKey}, "the replay produced no duplicate")
}

// Every PDS fault ends in the right state with a clear error, and the repo
// recovers once the fault clears.
func TestE2EPDSFaults(t *testing.T) {
	for name, tc := range map[string]struct {
		kind  testnet.PDSFaultKind
		state store.RepoState
		msg   string
	}{
		"500":           {testnet.PDSFaultServerError, store.RepoStateError, "HTTP 500"},
		"429":           {testnet.PDSFaultRateLimited, store.RepoStateDesynchronized, ""},
		"truncated CAR": {testnet.PDSFaultTruncatedCAR, store.RepoStateError, "repo CAR"},
		"missing block": {testnet.PDSFaultMissingRecord, store.RepoStateError, "repo CAR"},
		"wrong key":     {testnet.PDSFaultWrongKey, store.RepoStateError, "signature"},
		"wrong DID":     {testnet.PDSFaultWrongDID, store.RepoStateError, "commit names"},
	} {
		t.Run(name, func(t *testing.T) {
			net, accts := startNetwork(t, 1, 10)
			a := accts[0]
			net.Faults().SetRepoFault(a.DID(), testnet.PDSFault{Kind: tc.kind})
			ti := startTap(t, net, testEnv(net, sqliteURL(t)), nil)
			ti.addRepos(a)
			ti.waitFor("fault state", func() bool {
				r, err := ti.db.GetRepo(t.Context(), a.DID().String())
				return err == nil && r.State == tc.state && r.RetryCount > 0 && strings.Contains(r.ErrorMsg, tc.msg)
			})
			require.Empty(t, recordsOf(ti.events(), a.DID()), "a failed snapshot delivers nothing")
			net.Faults().ClearPDSFaults()
			ti.converged(a)
			require.Zero(t, ti.repo(a.DID()).RetryCount)
		})
	}
}

// Account and identity changes become identity events.
func TestE2EAccountAndIdentity(t *testing.T) {
	_, accts, ti := activeTap(t, 3, 2)
	identities := func(did syntax.DID) []identityEvent {
		var out []identityEvent
		for _, e := range ti.events() {
			if e.Identity != nil && e.Identity.DID == did.String() {
				out = append(out, *e.Identity)
			}
		}
		return out
	}
	taken, deleted, renamed := accts[0], accts[1], accts[2]
	_, err := taken.SetStatus(testnet.StatusTakendown)
	require.NoError(t, err)
	ti.waitFor("takedown event", func() bool { return len(identities(taken.DID())) == 2 })
	ev := identities(taken.DID())[1]
	require.Equal(t, identityEvent{DID: taken.DID().String(), Handle: taken.Handle().String(), IsActive: false, Status: "takendown"}, ev)
	require.Equal(t, store.AccountStatusTakendown, ti.repo(taken.DID()).Status)

	_, err = deleted.SetStatus(testnet.StatusDeleted)
	require.NoError(t, err)
	ti.waitFor("repo removed", func() bool { _, err := ti.db.GetRepo(t.Context(), deleted.DID().String()); return err != nil })
	require.Equal(t, "deleted", identities(deleted.DID())[1].Status)

	_, err = renamed.SetHandle("renamed.test")
	require.NoError(t, err)
	ti.waitFor("handle event", func() bool { return len(identities(renamed.DID())) == 2 })
	require.Equal(t, "renamed.test", identities(renamed.DID())[1].Handle)
	require.Equal(t, "renamed.test", ti.repo(renamed.DID()).Handle)
}

// After a key rotation, commits signed with the new key verify (the cached
// identity is purged and resolved again).
func TestE2EKeyRotation(t *testing.T) {
	_, accts, ti := activeTap(t, 1, 2)
	a := accts[0]
	_, err := a.RotateKey()
	require.NoError(t, err)
	_, err = a.CreateRecord(post, "after-rotation", rec("new key"))
	require.NoError(t, err)
	ti.waitFor("event signed with the new key", func() bool { return len(recordsOf(ti.events(), a.DID())) == 3 })
	require.Equal(t, store.RepoStateActive, ti.repo(a.DID()).State)
	require.NotContains(t, ti.out.String(), "repo desynchronized")
}
