package atproto

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/testnet"
)

// A PLC directory answering garbage fails the lookup with a clear error —
// a huge body within MaxIdentityBodyBytes of reading, not after holding it
// all — and the DID resolves again once the directory is healthy.
func TestDirectoryPLCGarbage(t *testing.T) {
	n := startNet(t)
	accts, err := n.CreateAccounts(2)
	require.NoError(t, err)
	did := accts[0].DID()
	dir := NewDirectory(DirectoryOptions{PLCURL: n.PLCURL(), CacheSize: 10, DNSResolver: n.DNSAddr()})
	want := map[testnet.PLCFaultKind]string{
		testnet.PLCFaultInvalidJSON: "JSON",
		testnet.PLCFaultWrongShape:  "JSON",
		testnet.PLCFaultServerError: "status 500",
		testnet.PLCFaultHugeBody:    "exceeds 1048576 bytes",
		testnet.PLCFaultOtherDID:    "did not match",
	}
	for _, kind := range testnet.PLCFaultKinds {
		t.Run(kind.String(), func(t *testing.T) {
			n.Faults().SetPLCFault(did, testnet.PLCFault{Kind: kind, Bytes: 256 << 20})
			require.NoError(t, dir.Purge(t.Context(), did.AtIdentifier()))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := dir.LookupDID(t.Context(), did)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want[kind])
			if kind == testnet.PLCFaultHugeBody {
				assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20),
					"a 256 MiB document is not read whole")
			}
			_, err = dir.LookupDID(t.Context(), accts[1].DID())
			require.NoError(t, err, "other DIDs are unaffected")

			n.Faults().ClearPLCFaults()
			require.NoError(t, dir.Purge(t.Context(), did.AtIdentifier()))
			ident, err := dir.LookupDID(t.Context(), did)
			require.NoError(t, err)
			assert.Equal(t, accts[0].PDSURL(), ident.PDSEndpoint())
		})
	}
}
