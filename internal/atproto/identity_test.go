package atproto

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"
)

// TestDirectoryUnusableHandle: a DID document whose declared handle can never
// verify (reserved TLD, bad syntax) resolves with handle.invalid and its
// key, instead of failing the lookup; an unknown DID still fails.
func TestDirectoryUnusableHandle(t *testing.T) {
	key, err := atcrypto.GeneratePrivateKeyK256()
	require.NoError(t, err)
	pub, err := key.PublicKey()
	require.NoError(t, err)
	docs := map[string]string{
		"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa": "at://bob.example",
		"did:plc:bbbbbbbbbbbbbbbbbbbbbbbb": "at://not a handle",
		"did:plc:cccccccccccccccccccccccc": "at://carol.local",
	}
	plc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		did := strings.TrimPrefix(r.URL.Path, "/")
		aka, ok := docs[did]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": did, "alsoKnownAs": []string{aka},
			"verificationMethod": []map[string]string{{
				"id": did + "#atproto", "type": "Multikey", "controller": did, "publicKeyMultibase": pub.Multibase(),
			}},
			"service": []map[string]string{{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "http://127.0.0.1:1"}},
		})
	}))
	t.Cleanup(plc.Close)
	dir := NewDirectory(DirectoryOptions{PLCURL: plc.URL, CacheSize: 10, DNSResolver: "127.0.0.1:1"})

	for did := range docs {
		ident, err := dir.LookupDID(t.Context(), syntax.DID(did))
		require.NoError(t, err, did)
		require.Equal(t, syntax.HandleInvalid, ident.Handle, did)
		got, err := ident.PublicKey()
		require.NoError(t, err, did)
		require.Equal(t, pub.Multibase(), got.Multibase(), did)

		ident, err = dir.Lookup(t.Context(), syntax.DID(did).AtIdentifier())
		require.NoError(t, err, did)
		require.Equal(t, syntax.HandleInvalid, ident.Handle, did)
	}
	_, err = dir.LookupDID(t.Context(), "did:plc:dddddddddddddddddddddddd")
	require.Error(t, err, "an unknown DID still fails")
}
