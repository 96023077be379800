package testnet

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// didEncoding is the lower-case base32 alphabet did:plc identifiers use.
var didEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// derive hashes a purpose label, the network seed and a list of integers
// into 32 deterministic bytes.
func derive(purpose string, seed int64, nums ...uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte("tap-testnet/" + purpose))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	for _, n := range nums {
		binary.BigEndian.PutUint64(b[:], n)
		h.Write(b[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// deriveDID returns the did:plc of account index under seed: 24 base32
// characters, like a real PLC identifier.
func deriveDID(seed int64, index int) syntax.DID {
	sum := derive("did", seed, uint64(index))
	id := didEncoding.EncodeToString(sum[:])[:24]
	return syntax.DID("did:plc:" + id)
}

// deriveHandle returns the initial handle of account index. Handles use the
// .test TLD: reserved TLDs (.local, .example, …) make indigo lookups fail.
func deriveHandle(index int) syntax.Handle {
	return syntax.Handle(fmt.Sprintf("u%d.test", index))
}

// deriveKey returns the k256 signing key of account index at the given key
// generation (0 for the first key, incremented by each rotation).
func deriveKey(seed int64, index, generation int) *atcrypto.PrivateKeyK256 {
	for attempt := uint64(0); ; attempt++ {
		sum := derive("key", seed, uint64(index), uint64(generation), attempt)
		key, err := atcrypto.ParsePrivateBytesK256(sum[:])
		if err == nil {
			return key
		}
		// astronomically rare: the bytes were zero or above the curve order
	}
}

// forgeryKey is a key that belongs to nobody; faults sign with it.
func forgeryKey(seed int64) *atcrypto.PrivateKeyK256 {
	return deriveKey(seed, -1, 0)
}

// publicMultibase returns the Multikey encoding of key's public half.
func publicMultibase(key *atcrypto.PrivateKeyK256) string {
	pub, err := key.PublicKey()
	if err != nil {
		panic(fmt.Sprintf("testnet: k256 public key: %v", err))
	}
	return pub.Multibase()
}
