package testnet

import (
	"sort"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
)

// RepoSnapshot is the ground truth of one repo at one moment.
type RepoSnapshot struct {
	DID    syntax.DID
	Handle syntax.Handle
	Status AccountStatus
	// Rev, Commit and Data are the current commit's rev, CID and MST root.
	Rev    syntax.TID
	Commit cid.Cid
	Data   cid.Cid
	// Records are the current records in path order.
	Records []Record
}

// Snapshot returns the account's current ground truth.
func (a *Account) Snapshot() (RepoSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	recs, err := a.repo.records()
	return RepoSnapshot{
		DID: a.did, Handle: a.handle, Status: a.status,
		Rev: a.repo.rev, Commit: a.repo.commitCID, Data: a.repo.data, Records: recs,
	}, err
}

// GroundTruth returns the snapshot of every account, keyed by DID.
func (n *Network) GroundTruth() (map[syntax.DID]RepoSnapshot, error) {
	out := make(map[syntax.DID]RepoSnapshot)
	for _, a := range n.Accounts() {
		s, err := a.Snapshot()
		if err != nil {
			return nil, err
		}
		out[a.did] = s
	}
	return out, nil
}

// snapshotForFault pins the current commit for getRepo and prepares the
// CAR writer, shaping both for a CAR fault kind (PDSFaultNone for none).
func (a *Account) snapshotForFault(kind PDSFaultKind) (*repoSnapshot, *carWriter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.repo
	snap := &repoSnapshot{
		commitCID: r.commitCID, commitBytes: r.commitBytes, data: r.data,
		records: r.count, store: r.store, unpin: r.store.pin(),
	}
	cw := &carWriter{}
	var err error
	switch kind {
	case PDSFaultTruncatedCAR:
		cw.truncateAt = 1 + (r.count+1)/2
	case PDSFaultMissingRecord:
		cw.skipRecord = true
	case PDSFaultWrongKey:
		err = snap.resign(a.headCommit(a.did), forgeryKey(a.net.opts.Seed))
	case PDSFaultWrongDID:
		err = snap.resign(a.headCommit(deriveDID(a.net.opts.Seed, -1-a.index)), a.key)
	}
	if err != nil {
		snap.unpin()
		return nil, nil, err
	}
	return snap, cw, nil
}

// headCommit returns an unsigned copy of the head commit naming did.
func (a *Account) headCommit(did syntax.DID) repo.Commit {
	return repo.Commit{DID: did.String(), Version: repo.ATPROTO_REPO_VERSION, Data: a.repo.data, Rev: a.repo.rev.String()}
}

// resign replaces the snapshot's commit block with c signed by key.
func (s *repoSnapshot) resign(c repo.Commit, key atcrypto.PrivateKey) error {
	b, id, err := signCommit(&c, key)
	if err != nil {
		return err
	}
	s.commitCID, s.commitBytes = id, b
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
