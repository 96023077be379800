package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestInfo(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		seedRepo(t, db, store.Repo{DID: "did:plc:aaa", State: store.RepoStateError, Status: "deactivated",
			Handle: "alice.test", Rev: "3laaaaaaaaa22", ErrorMsg: "getRepo: 429 <too many>", RetryCount: 2})
		seedRecords(t, db, "did:plc:aaa", 12)
		seedRecords(t, db, "did:plc:other", 5)
		requireJSON(t, api.get("/info/did:plc:aaa"), http.StatusOK,
			`{"did":"did:plc:aaa","error":"getRepo: 429 \u003ctoo many\u003e","handle":"alice.test",`+
				`"records":12,"retries":2,"rev":"3laaaaaaaaa22","state":"error","status":"deactivated"}`)

		requireEmpty(t, api.post("/repos/add", `{"dids":["did:plc:new"]}`))
		requireJSON(t, api.get("/info/did:plc:new"), http.StatusOK,
			`{"did":"did:plc:new","error":"","handle":"","records":0,"retries":0,"rev":"",`+
				`"state":"pending","status":"active"}`)
		requireJSON(t, api.get("/info/did:plc:missing"), http.StatusNotFound, `{"message":"repo not found"}`)
	})
}

func TestInfoInvalidDID(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	requireJSON(t, api.get("/info/not-a-did"), http.StatusBadRequest, `{"message":"invalid DID: \"not-a-did\""}`)
	requireJSON(t, api.get("/info/did:plc"), http.StatusBadRequest, `{"message":"invalid DID: \"did:plc\""}`)
	requireJSON(t, api.get("/info/did%20x"), http.StatusBadRequest, `{"message":"invalid DID: \"did x\""}`)
}

// Path DIDs are taken as sent, so a did:web with an escaped port stays that DID; a DID sent
// fully escaped is decoded once.
func TestInfoEscapedDIDs(t *testing.T) {
	db := storetest.OpenSQLite(t)
	api := newAPI(t, db)
	requireEmpty(t, api.post("/repos/add", `{"dids":["did:web:localhost%3A8080","did:plc:aaa"]}`))
	for path, did := range map[string]string{
		"/info/did:web:localhost%3A8080":       "did:web:localhost%3A8080",
		"/info/did%3Aweb%3Alocalhost%253A8080": "did:web:localhost%3A8080",
		"/info/did%3Aplc%3Aaaa":                "did:plc:aaa",
	} {
		r := api.get(path)
		require.Equal(t, http.StatusOK, r.status, path)
		require.Contains(t, r.body, `{"did":"`+did+`",`, path)
	}
	requireJSON(t, api.get("/info/did:web:localhost:8080"), http.StatusNotFound, `{"message":"repo not found"}`)
}

func TestInfoStoreErrors(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.Store = errStore{} })
	requireJSON(t, api.get("/info/did:plc:aaa"), http.StatusInternalServerError, `{"message":"failed to get repo"}`)

	db := storetest.OpenSQLite(t)
	seedRepo(t, db, store.Repo{DID: "did:plc:aaa", State: store.RepoStateActive, Status: store.AccountStatusActive})
	api = newAPI(t, db, func(o *httpapi.Options) { o.Store = countErrStore{o.Store} })
	requireJSON(t, api.get("/info/did:plc:aaa"), http.StatusInternalServerError, `{"message":"failed to get repo"}`)
}

func TestResolve(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	api.dir.Insert(identity.Identity{
		DID:         "did:plc:aaa",
		Handle:      "alice.test",
		AlsoKnownAs: []string{"at://alice.test"},
		Keys: map[string]identity.VerificationMethod{
			"atproto": {Type: "Multikey", PublicKeyMultibase: "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"},
		},
		Services: map[string]identity.ServiceEndpoint{
			"atproto_pds":     {Type: "AtprotoPersonalDataServer", URL: "https://pds.test"},
			"atproto_labeler": {Type: "AtprotoLabeler", URL: "https://labeler.test"},
		},
	})
	api.dir.Insert(identity.Identity{DID: "did:plc:bare", Handle: syntax.HandleInvalid})

	requireJSON(t, api.get("/resolve/did:plc:aaa"), http.StatusOK,
		`{"id":"did:plc:aaa","alsoKnownAs":["at://alice.test"],`+
			`"verificationMethod":[{"id":"did:plc:aaa#atproto","type":"Multikey","controller":"did:plc:aaa",`+
			`"publicKeyMultibase":"zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],`+
			`"service":[{"id":"#atproto_labeler","type":"AtprotoLabeler","serviceEndpoint":"https://labeler.test"},`+
			`{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.test"}]}`)
	requireJSON(t, api.get("/resolve/did:plc:bare"), http.StatusOK, `{"id":"did:plc:bare"}`)
	requireJSON(t, api.get("/resolve/did:plc:unknown"), http.StatusNotFound, `{"message":"DID not found"}`)
	requireJSON(t, api.get("/resolve/nope"), http.StatusBadRequest, `{"message":"improperly formatted DID"}`)
	requireJSON(t, api.get("/resolve/did:"), http.StatusBadRequest, `{"message":"improperly formatted DID"}`)
}

// errDirectory fails every DID lookup with err.
type errDirectory struct {
	identity.Directory
	err error
}

func (d errDirectory) LookupDID(context.Context, syntax.DID) (*identity.Identity, error) {
	return nil, d.err
}

func TestResolveErrors(t *testing.T) {
	cases := map[error]string{
		fmt.Errorf("%w: PLC directory 404", identity.ErrDIDNotFound): `{"message":"DID not found"}`,
		identity.ErrDIDResolutionFailed:                              `{"message":"failed to resolve DID"}`,
		nil:                                                          `{"message":"failed to resolve DID"}`,
	}
	for err, want := range cases {
		api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
			o.Directory = errDirectory{o.Directory, err}
		})
		status := http.StatusInternalServerError
		if want == `{"message":"DID not found"}` {
			status = http.StatusNotFound
		}
		requireJSON(t, api.get("/resolve/did:plc:aaa"), status, want)
	}
}

// A real resolver wraps ErrDIDNotFound; the reference answers 500 there, we answer 404.
func TestResolveUnknownDIDFromPLC(t *testing.T) {
	plc := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plc.Close)
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) {
		o.Directory = &identity.BaseDirectory{PLCURL: plc.URL}
	})
	requireJSON(t, api.get("/resolve/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"), http.StatusNotFound,
		`{"message":"DID not found"}`)
}
