package verifystage

import (
	"crypto/rand"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"
)

func TestCIDStringMatchesString(t *testing.T) {
	prefixes := []cid.Prefix{
		cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256), // records, MST nodes, commits
		cid.NewPrefixV1(cid.Raw, multihash.SHA2_256),     // blobs
		cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_512), // 68 bytes: c.String()
		{Version: 1, Codec: cid.DagCBOR, MhType: multihash.IDENTITY, MhLength: -1},
		cid.NewPrefixV0(multihash.SHA2_256), // base58btc: c.String()
	}
	for _, p := range prefixes {
		for n := range 40 {
			data := make([]byte, n)
			_, _ = rand.Read(data)
			c, err := p.Sum(data)
			require.NoError(t, err)
			require.Equal(t, c.String(), cidString(c))
		}
	}
	require.Equal(t, cid.Undef.String(), cidString(cid.Undef))
	c := cid.MustParse("bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq")
	require.Equal(t, "bafyreig6kyxpzzvyvcvqj4oc6rpmzhyqlnzn3xcr3jvk4xkxsrbvoxbjtq", cidString(c))
	require.EqualValues(t, 1, testing.AllocsPerRun(100, func() { _ = cidString(c) }))
}
