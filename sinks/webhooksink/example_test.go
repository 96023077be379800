package webhooksink_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/pipeline"
	"github.com/tapkit/tap/sinks/webhooksink"
)

// A receiver that checks X-Tap-Signature, and a sink configured as
// pipeline.sinks: [{id: webhook, config: {url: ..., hmac_secret: ...}}].
func Example_signedWebhook() {
	const secret = "change me"
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // verify the raw bytes, before parsing
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(webhooksink.SignatureHeader))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Printf("verified %s\n", body)
	}))
	defer receiver.Close()

	f := webhooksink.NewFactory()
	cfg := f.CreateDefaultConfig()
	raw := map[string]any{"url": receiver.URL, "hmac_secret": secret}
	if err := pipeline.Decode(raw, cfg, "pipeline.sinks[0].config"); err != nil {
		panic(err)
	}
	set := pipeline.Settings{ID: pipeline.ID{Type: webhooksink.Type}, Resources: []any{&config.Config{}}}
	sink, err := f.Create(context.Background(), set, cfg)
	if err != nil {
		panic(err)
	}
	defer sink.Shutdown(context.Background())

	err = sink.Deliver(context.Background(), []pipeline.Delivery{{ID: 1, DID: "did:plc:a",
		JSON: []byte(`{"id":1,"type":"identity","identity":{"did":"did:plc:a","handle":"a.test","is_active":true,"status":"active"}}`)}})
	fmt.Println("acked:", err == nil)
	// Output:
	// verified {"id":1,"type":"identity","identity":{"did":"did:plc:a","handle":"a.test","is_active":true,"status":"active"}}
	// acked: true
}
