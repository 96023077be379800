package testnet

import (
	"errors"
	"fmt"
	"sync"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"
)

// AccountStatus is an account's hosting status, as #account carries it.
type AccountStatus string

// Account statuses.
const (
	StatusActive      AccountStatus = "active"
	StatusDeactivated AccountStatus = "deactivated"
	StatusTakendown   AccountStatus = "takendown"
	StatusSuspended   AccountStatus = "suspended"
	StatusDeleted     AccountStatus = "deleted"
)

// Account is one repo on the network: a DID with a signing key, a handle,
// a PDS host and a repository. Its methods are safe for concurrent use;
// writes to one account are serialised.
type Account struct {
	net   *Network
	index int
	did   syntax.DID
	pds   *pdsHost

	mu     sync.Mutex
	handle syntax.Handle
	keyGen int
	key    *atcrypto.PrivateKeyK256
	status AccountStatus
	repo   *repoState
}

// CreateAccounts creates n accounts with the next deterministic indices.
// Each gets an empty repo with a signed initial commit, and the firehose
// carries #identity, #account (active) and #sync for it, as a PDS emits
// on account creation.
func (n *Network) CreateAccounts(count int) ([]*Account, error) {
	out := make([]*Account, 0, count)
	for range count {
		a, err := n.createAccount()
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (n *Network) createAccount() (*Account, error) {
	n.mu.Lock()
	idx := len(n.accounts)
	a := &Account{
		net:    n,
		index:  idx,
		did:    deriveDID(n.opts.Seed, idx),
		pds:    n.pds[idx%len(n.pds)],
		handle: deriveHandle(idx),
		key:    deriveKey(n.opts.Seed, idx, 0),
		status: StatusActive,
		repo:   nil,
	}
	a.repo = newRepoState(a.did)
	n.accounts = append(n.accounts, a)
	n.byDID[a.did] = a
	n.byHandle[a.handle] = a
	n.mu.Unlock()

	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.repo.applyWrites(nil, a.key); err != nil {
		return nil, err
	}
	if err := a.emitIdentityLocked(); err != nil {
		return nil, err
	}
	if err := a.emitAccountLocked(); err != nil {
		return nil, err
	}
	return a, a.emitSyncLocked()
}

// DID returns the account's DID.
func (a *Account) DID() syntax.DID { return a.did }

// Index returns the account's position in creation order (its identities
// derive from the seed and this index).
func (a *Account) Index() int { return a.index }

// Handle returns the account's current handle.
func (a *Account) Handle() syntax.Handle {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.handle
}

// Status returns the account's hosting status.
func (a *Account) Status() AccountStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// PDSURL returns the base URL of the account's PDS host.
func (a *Account) PDSURL() string { return a.pds.srv.URL() }

// PublicKey returns the account's current signing key (the one its DID
// document declares).
func (a *Account) PublicKey() atcrypto.PublicKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	pub, _ := a.key.PublicKey()
	return pub
}

// Rev returns the rev of the repo's current commit.
func (a *Account) Rev() syntax.TID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo.rev
}

// Head returns the CID of the repo's current commit.
func (a *Account) Head() cid.Cid {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo.commitCID
}

// CreateRecord creates one record in one commit; an empty rkey means a
// fresh TID. It returns the emitted #commit.
func (a *Account) CreateRecord(collection syntax.NSID, rkey syntax.RecordKey, record map[string]any) (Event, error) {
	return a.Apply(Create(collection, rkey, record))
}

// UpdateRecord replaces one record in one commit.
func (a *Account) UpdateRecord(collection syntax.NSID, rkey syntax.RecordKey, record map[string]any) (Event, error) {
	return a.Apply(Update(collection, rkey, record))
}

// DeleteRecord deletes one record in one commit.
func (a *Account) DeleteRecord(collection syntax.NSID, rkey syntax.RecordKey) (Event, error) {
	return a.Apply(Delete(collection, rkey))
}

// Apply applies writes as ONE signed commit and emits it on the firehose
// as a Sync 1.1 #commit (unless a commit fault says otherwise). It returns
// the event as emitted (Seq is 0 if a fault suppressed it).
func (a *Account) Apply(writes ...Write) (Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == StatusDeleted {
		return Event{}, ErrAccountDeleted
	}
	res, err := a.repo.applyWrites(writes, a.key)
	if err != nil {
		return Event{}, err
	}
	return a.emitCommitLocked(res, a.net.faults.takeCommitFault(a.did))
}

// Records returns the repo's current records in path order.
func (a *Account) Records() ([]Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo.records()
}

// Record returns one current record, or ErrRecordNotFound.
func (a *Account) Record(collection syntax.NSID, rkey syntax.RecordKey) (Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := Record{Collection: collection, RKey: rkey}
	c, err := a.repo.tree.Get([]byte(r.Path()))
	if err != nil {
		return r, err
	}
	if c == nil {
		return r, fmt.Errorf("%w: %s", ErrRecordNotFound, r.Path())
	}
	r.CID, r.CBOR = *c, a.repo.store.get(*c)
	return r, nil
}

// RecordCount returns how many records the repo holds.
func (a *Account) RecordCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo.count
}

// errNoAccount is returned for DIDs the network does not know.
var errNoAccount = errors.New("testnet: unknown account")
