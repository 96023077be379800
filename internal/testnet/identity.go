package testnet

import (
	"fmt"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// DIDDocument returns the account's current DID document, as the PLC
// directory serves it.
func (a *Account) DIDDocument() identity.DIDDocument {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.didDocLocked()
}

func (a *Account) didDocLocked() identity.DIDDocument {
	did := a.did.String()
	aka := []string{"at://" + a.handle.String()}
	if a.net.opts.UndeclaredHandles {
		aka = nil
	}
	return identity.DIDDocument{
		DID:         a.did,
		AlsoKnownAs: aka,
		VerificationMethod: []identity.DocVerificationMethod{{
			ID:                 did + "#atproto",
			Type:               "Multikey",
			Controller:         did,
			PublicKeyMultibase: publicMultibase(a.key),
		}},
		Service: []identity.DocService{{
			ID:              "#atproto_pds",
			Type:            "AtprotoPersonalDataServer",
			ServiceEndpoint: a.pds.srv.URL(),
		}},
	}
}

// RotateKey replaces the account's signing key with the next
// deterministic one, updates the DID document and emits #identity. Later
// commits are signed with the new key.
func (a *Account) RotateKey() (Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keyGen++
	a.key = deriveKey(a.net.opts.Seed, a.index, a.keyGen)
	return a.emitIdentity()
}

// SetHandle changes the account's handle: the DID document's alsoKnownAs,
// the DNS TXT record and /.well-known/atproto-did follow, and #identity
// is emitted. Use a .test handle.
func (a *Account) SetHandle(h syntax.Handle) (Event, error) {
	h = h.Normalize()
	if !h.AllowedTLD() {
		return Event{}, fmt.Errorf("testnet: handle %s has a reserved TLD; indigo lookups would fail", h)
	}
	n := a.net
	n.mu.Lock()
	if other := n.byHandle[h]; other != nil && other != a {
		n.mu.Unlock()
		return Event{}, fmt.Errorf("testnet: handle %s is taken by %s", h, other.did)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n.byHandle[a.handle] == a {
		delete(n.byHandle, a.handle)
	}
	a.handle = h
	n.byHandle[h] = a
	n.mu.Unlock()
	return a.emitIdentity()
}

// SetStatus changes the account's hosting status and emits #account.
// Deactivated, takendown and suspended repos answer getRepo with an
// error; deleted accounts take no more writes, leave listRepos and
// answer RepoNotFound.
func (a *Account) SetStatus(s AccountStatus) (Event, error) {
	switch s {
	case StatusActive, StatusDeactivated, StatusTakendown, StatusSuspended, StatusDeleted:
	default:
		return Event{}, fmt.Errorf("testnet: unknown account status %q", s)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == StatusDeleted {
		return Event{}, ErrAccountDeleted
	}
	a.status = s
	return a.emitAccount()
}

// EmitSync emits a #sync frame carrying the repo's current commit (what a
// PDS sends after a repo import or to reset consumers).
func (a *Account) EmitSync() (Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.emitSync()
}

func (a *Account) emitIdentityLocked() error { _, err := a.emitIdentity(); return err }
func (a *Account) emitAccountLocked() error  { _, err := a.emitAccount(); return err }
func (a *Account) emitSyncLocked() error     { _, err := a.emitSync(); return err }
