package verifystage

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"
)

const testDID = syntax.DID("did:plc:keycachetestaaaaaaaaaaaa")

// newSigningKey returns a fresh K-256 key.
func newSigningKey(t testing.TB) *atcrypto.PrivateKeyK256 {
	t.Helper()
	k, err := atcrypto.GeneratePrivateKeyK256()
	require.NoError(t, err)
	return k
}

// identityWithKey is did's identity declaring key as its signing key.
func identityWithKey(t testing.TB, did syntax.DID, key atcrypto.PrivateKey) identity.Identity {
	t.Helper()
	pub, err := key.PublicKey()
	require.NoError(t, err)
	return identity.Identity{
		DID: did, Handle: syntax.HandleInvalid,
		Keys: map[string]identity.VerificationMethod{atprotoKeyID: {Type: "Multikey", PublicKeyMultibase: pub.Multibase()}},
	}
}

// requireKeyOf checks that got is the public key of want.
func requireKeyOf(t testing.TB, want atcrypto.PrivateKey, got atcrypto.PublicKey) {
	t.Helper()
	pub, err := want.PublicKey()
	require.NoError(t, err)
	require.True(t, pub.Equal(got), "got key %s, want %s", got.Multibase(), pub.Multibase())
}

func TestKeyCacheParsesOncePerDeclaration(t *testing.T) {
	c := newKeyCache(10)
	a, b := newSigningKey(t), newSigningKey(t)
	identA := identityWithKey(t, testDID, a)

	first, err := c.publicKey(testDID, &identA)
	require.NoError(t, err)
	requireKeyOf(t, a, first)
	again, err := c.publicKey(testDID, &identA)
	require.NoError(t, err)
	require.True(t, first == again, "the same declaration is served from the cache")

	identB := identityWithKey(t, testDID, b) // the key rotated
	rotated, err := c.publicKey(testDID, &identB)
	require.NoError(t, err)
	requireKeyOf(t, b, rotated)

	back, err := c.publicKey(testDID, &identA) // an older document, still cached somewhere
	require.NoError(t, err)
	requireKeyOf(t, a, back)

	p256 := identA
	p256.Keys = map[string]identity.VerificationMethod{atprotoKeyID: {
		Type: "EcdsaSecp256k1VerificationKey2019", PublicKeyMultibase: identA.Keys[atprotoKeyID].PublicKeyMultibase,
	}}
	_, want := p256.PublicKey()
	_, err = c.publicKey(testDID, &p256)
	require.Error(t, err, "a changed key type is parsed again")
	require.Equal(t, want.Error(), err.Error())
}

func TestKeyCacheDocumentWithoutKey(t *testing.T) {
	c := newKeyCache(10)
	ident := identity.Identity{DID: testDID}
	_, err := c.publicKey(testDID, &ident)
	require.ErrorIs(t, err, identity.ErrKeyNotDeclared)

	ident.Keys = map[string]identity.VerificationMethod{atprotoKeyID: {Type: "Multikey", PublicKeyMultibase: "zNotAKey"}}
	_, err = c.publicKey(testDID, &ident)
	require.Error(t, err)
	require.Zero(t, c.lru.Len(), "errors are not cached")
}

func TestKeyCacheBounded(t *testing.T) {
	c := newKeyCache(2)
	for i := range 5 {
		did := syntax.DID(fmt.Sprintf("did:plc:bounded%d", i))
		ident := identityWithKey(t, did, newSigningKey(t))
		_, err := c.publicKey(did, &ident)
		require.NoError(t, err)
	}
	require.Equal(t, 2, c.lru.Len())
	require.NotNil(t, newKeyCache(0).lru, "a size below one keeps one key")
}

// rotatingDirectory is an identity directory as tap runs it (indigo's
// cache in front of a resolver) whose documents the test changes.
type rotatingDirectory struct {
	*identity.CacheDirectory
	published *identity.MockDirectory
}

func newRotatingDirectory(t testing.TB, key atcrypto.PrivateKey) *rotatingDirectory {
	t.Helper()
	published := identity.NewMockDirectory()
	published.Insert(identityWithKey(t, testDID, key))
	return &rotatingDirectory{
		CacheDirectory: identity.NewCacheDirectory(published, 100, time.Hour, time.Minute, time.Minute),
		published:      published,
	}
}

// rotate publishes a new signing key; the cache serves the old document
// until it is purged.
func (d *rotatingDirectory) rotate(t testing.TB, key atcrypto.PrivateKey) {
	d.published.Insert(identityWithKey(t, testDID, key))
}

// signedBy returns a verify func for verifySigned of content signed by key.
func signedBy(t testing.TB, key atcrypto.PrivateKey, content []byte) func(atcrypto.PublicKey) error {
	t.Helper()
	sig, err := key.HashAndSign(content)
	require.NoError(t, err)
	return func(pub atcrypto.PublicKey) error { return pub.HashAndVerify(content, sig) }
}

func TestVerifySignedAfterRotation(t *testing.T) {
	ctx := t.Context()
	oldKey, newKey := newSigningKey(t), newSigningKey(t)
	dir := newRotatingDirectory(t, oldKey)
	s := New(Config{SnapshotBatch: 1}, nil, dir, nil)
	msg := []byte("commit")

	require.NoError(t, s.verifySigned(ctx, testDID, signedBy(t, oldKey, msg)))
	cached, err := s.publicKey(ctx, testDID, false)
	require.NoError(t, err)
	requireKeyOf(t, oldKey, cached)

	dir.rotate(t, newKey)
	require.NoError(t, s.verifySigned(ctx, testDID, signedBy(t, newKey, msg)), "the rotated key is fetched and used")
	key, err := s.publicKey(ctx, testDID, false)
	require.NoError(t, err)
	requireKeyOf(t, newKey, key)
	again, err := s.publicKey(ctx, testDID, false)
	require.NoError(t, err)
	require.True(t, key == again, "the new key is cached in turn")

	err = s.verifySigned(ctx, testDID, signedBy(t, oldKey, msg))
	require.ErrorContains(t, err, "bad signature", "the old key is never served again")
}

func TestVerifySignedFailureDropsCachedKey(t *testing.T) {
	ctx := t.Context()
	key := newSigningKey(t)
	s := New(Config{SnapshotBatch: 1}, nil, newRotatingDirectory(t, key), nil)
	before, err := s.publicKey(ctx, testDID, false)
	require.NoError(t, err)

	err = s.verifySigned(ctx, testDID, signedBy(t, newSigningKey(t), []byte("forged")))
	require.ErrorContains(t, err, "bad signature")

	after, err := s.publicKey(ctx, testDID, false)
	require.NoError(t, err)
	requireKeyOf(t, key, after)
	require.False(t, before == after, "the key is parsed again from the re-resolved document")
}

// TestKeyCacheConcurrent verifies, rotates and purges from many goroutines
// at once (run with -race): every key served is the one of the document it
// was asked for.
func TestKeyCacheConcurrent(t *testing.T) {
	keys := []atcrypto.PrivateKey{newSigningKey(t), newSigningKey(t), newSigningKey(t)}
	idents := make([]identity.Identity, len(keys))
	for i, k := range keys {
		idents[i] = identityWithKey(t, testDID, k)
	}
	c := newKeyCache(4)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := (g + i) % len(keys)
				if i%50 == 0 {
					c.forget(testDID)
				}
				got, err := c.publicKey(testDID, &idents[n])
				if err == nil {
					err = got.HashAndVerify([]byte("x"), mustSign(keys[n], []byte("x")))
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
		require.NoError(t, err)
	}
}

func mustSign(k atcrypto.PrivateKey, content []byte) []byte {
	sig, err := k.HashAndSign(content)
	if err != nil {
		panic(err)
	}
	return sig
}
