package verifystage

import (
	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultKeyCacheSize is how many parsed signing keys a stage keeps when
// it is not given the identity cache size (WithKeyCacheSize).
const DefaultKeyCacheSize = 100_000

// atprotoKeyID is the id of the repo signing key in a DID document, the
// one Identity.PublicKey parses.
const atprotoKeyID = "atproto"

// keyCache holds the signing keys parsed from DID documents, by DID, so
// that a commit of a cached identity does not parse its multibase key again
// (a point decompression, ~15 µs). An entry is only served for the very
// key declaration it was parsed from: a document with a rotated key (or a
// changed key type) misses and is parsed again, whoever resolved it. It is
// safe for concurrent use.
type keyCache struct {
	lru *lru.Cache[syntax.DID, parsedKey]
}

// parsedKey is a key declaration of a DID document and its parsed key.
type parsedKey struct {
	method identity.VerificationMethod
	key    atcrypto.PublicKey
}

// newKeyCache returns a cache of at most size keys (at least one).
func newKeyCache(size int) *keyCache {
	c, err := lru.New[syntax.DID, parsedKey](max(size, 1))
	if err != nil {
		panic(err) // only for a size below one
	}
	return &keyCache{lru: c}
}

// publicKey returns the signing key of ident, did's identity, as
// ident.PublicKey does, parsing it only when the cache has no key for
// ident's current declaration.
func (c *keyCache) publicKey(did syntax.DID, ident *identity.Identity) (atcrypto.PublicKey, error) {
	method, ok := ident.Keys[atprotoKeyID]
	if !ok {
		return ident.PublicKey() // the error of a document without the key
	}
	if e, ok := c.lru.Get(did); ok && e.method == method {
		return e.key, nil
	}
	key, err := ident.PublicKey()
	if err != nil {
		return nil, err
	}
	c.lru.Add(did, parsedKey{method: method, key: key})
	return key, nil
}

// forget drops the key of did.
func (c *keyCache) forget(did syntax.DID) {
	c.lru.Remove(did)
}
