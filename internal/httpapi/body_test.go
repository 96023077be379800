package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/internal/store/storetest"
)

func TestBodyErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"syntax", `{"dids":]`,
			`Syntax error: offset=9, error=invalid character ']' looking for beginning of value`},
		{"not json", `dids=did:plc:aaa`,
			`Syntax error: offset=1, error=invalid character 'd' looking for beginning of value`},
		{"truncated", `{"dids":["did:plc:aaa"`, `unexpected EOF`},
		{"dids string", `{"dids":"did:plc:aaa"}`,
			`Unmarshal type error: expected=[]string, got=string, field=dids, offset=21`},
		{"dids number", `{"dids":["did:plc:aaa",7]}`,
			`Unmarshal type error: expected=string, got=number, field=dids, offset=24`},
		{"dids object", `{"dids":{}}`,
			`Unmarshal type error: expected=[]string, got=object, field=dids, offset=9`},
		{"array body", `["did:plc:aaa"]`,
			`Unmarshal type error: expected=httpapi.didsRequest, got=array, field=, offset=1`},
	}
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		for _, path := range []string{"/repos/add", "/repos/remove"} {
			for _, c := range cases {
				r := api.post(path, c.body)
				requireJSON(t, r, http.StatusBadRequest, `{"message":`+jsonString(c.want)+`}`)
			}
		}
		require.Zero(t, repoCount(t, db))
	})
}

func TestContentType(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db)
		body := `{"dids":["did:plc:aaa"]}`
		for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/xml",
			"application/x-www-form-urlencoded", "application/jsonx", ";;"} {
			r := api.do(http.MethodPost, "/repos/add", body, "Content-Type", ct)
			requireJSON(t, r, http.StatusUnsupportedMediaType, `{"message":"Unsupported Media Type"}`)
		}
		require.Zero(t, repoCount(t, db))
		for i, ct := range []string{"", "application/json", "application/json; charset=utf-8",
			"Application/JSON", "application/json; charset"} {
			did := "did:plc:ct" + string(rune('a'+i))
			requireEmpty(t, api.sendBody("/repos/add", `{"dids":["`+did+`"]}`, -1, ct))
			_, err := db.GetRepo(t.Context(), did)
			require.NoError(t, err, "content type %q", ct)
		}
	})
}

func TestOversizeBody(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		api := newAPI(t, db, func(o *httpapi.Options) { o.MaxBodyBytes = 64 })
		big := `{"dids":["did:plc:aaa","did:plc:bbb","did:plc:ccc","did:plc:ddd"]}`
		require.Greater(t, len(big), 64)
		trailing := `{"dids":["did:plc:aaa"]}` + strings.Repeat(" ", 100)
		for _, path := range []string{"/repos/add", "/repos/remove"} {
			for _, body := range []string{big, trailing} {
				want := `{"message":"Request Entity Too Large"}`
				requireJSON(t, api.post(path, body), http.StatusRequestEntityTooLarge, want)
				requireJSON(t, api.sendBody(path, body, -1, "application/json"),
					http.StatusRequestEntityTooLarge, want)
			}
		}
		require.Zero(t, repoCount(t, db))
		requireEmpty(t, api.post("/repos/add", `{"dids":["did:plc:aaa"]}`))
		require.EqualValues(t, 1, repoCount(t, db))
	})
}

func TestDefaultBodyLimit(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t))
	body := `{"dids":[]}` + strings.Repeat(" ", httpapi.DefaultMaxBodyBytes)
	requireJSON(t, api.post("/repos/add", body), http.StatusRequestEntityTooLarge,
		`{"message":"Request Entity Too Large"}`)
	requireEmpty(t, api.post("/repos/add", body[:httpapi.DefaultMaxBodyBytes]))
}

// jsonString quotes s as a JSON string the way encoding/json does.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
