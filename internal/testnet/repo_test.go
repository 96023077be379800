package testnet

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bluesky-social/indigo/atproto/repo/mst"
	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMSTStaysCanonical guards the workaround for indigo leaving an
// emptied root at its old height: after every commit the incremental tree
// must have the root CID of the same records built from scratch.
func TestMSTStaysCanonical(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		key := deriveKey(0, 0, 0)
		r := newRepoState(deriveDID(0, 0))
		_, err := r.applyWrites(nil, key)
		require.NoError(t, err)
		idx := r.ensurePaths()
		for i := range 150 {
			var w Write
			if rng.IntN(3) == 0 && len(idx.paths) > 0 {
				coll, rkey, _ := splitPath(idx.random(rng))
				w = Delete(coll, rkey)
			} else {
				w = Create(CollectionPost, "", map[string]any{"text": fmt.Sprint(rng.Int())})
			}
			_, err := r.applyWrites([]Write{w}, key)
			require.NoError(t, err)
			m := map[string]cid.Cid{}
			require.NoError(t, r.tree.WriteToMap(m))
			fresh, err := mst.LoadTreeFromMap(m)
			require.NoError(t, err)
			want, err := fresh.RootCID()
			require.NoError(t, err)
			require.Equal(t, *want, r.data, "seed %d commit %d", seed, i)
		}
	}
}

func TestCompactionDropsGarbage(t *testing.T) {
	key := deriveKey(0, 0, 0)
	r := newRepoState(deriveDID(0, 0))
	_, err := r.applyWrites(nil, key)
	require.NoError(t, err)
	for i := range 3000 {
		_, err := r.applyWrites([]Write{Create(CollectionPost, "", map[string]any{"n": int64(i)})}, key)
		require.NoError(t, err)
	}
	r.store.mu.RLock()
	kept := len(r.store.blocks)
	r.store.mu.RUnlock()
	reachable := map[cid.Cid]struct{}{}
	markReachable(r.tree.Root, reachable)
	assert.Less(t, kept, 2*len(reachable)+1100, "old nodes and commits are compacted away")
	recs, err := r.records()
	require.NoError(t, err)
	for _, rec := range recs {
		require.NotNil(t, rec.CBOR, "live records survive")
	}
}
