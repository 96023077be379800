package testnet

import (
	"net/http"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// plcHandler serves GET /{did} with the account's DID document (with the
// W3C contexts a real PLC directory adds) and 404 for unknown DIDs.
func (n *Network) plcHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{did}", func(w http.ResponseWriter, req *http.Request) {
		did, err := syntax.ParseDID(req.PathValue("did"))
		if err != nil || !strings.HasPrefix(did.String(), "did:plc:") {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "DID not registered: " + req.PathValue("did")})
			return
		}
		if n.relayFaults.servePLC(w, n, did) {
			return
		}
		a := n.Account(did)
		if a == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "DID not registered: " + did.String()})
			return
		}
		doc := a.DIDDocument()
		writeJSON(w, http.StatusOK, plcDocument{
			Context:            plcContexts,
			DID:                doc.DID.String(),
			AlsoKnownAs:        doc.AlsoKnownAs,
			VerificationMethod: doc.VerificationMethod,
			Service:            doc.Service,
		})
	})
	return mux
}

var plcContexts = []string{
	"https://www.w3.org/ns/did/v1",
	"https://w3id.org/security/multikey/v1",
	"https://w3id.org/security/suites/secp256k1-2019/v1",
}

type plcDocument struct {
	Context            []string `json:"@context"`
	DID                string   `json:"id"`
	AlsoKnownAs        []string `json:"alsoKnownAs"`
	VerificationMethod any      `json:"verificationMethod"`
	Service            any      `json:"service"`
}
