package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store/storetest"
)

// A body that does not arrive within ReadBodyTimeout answers 408 and applies nothing; a body
// in time on the same kind of connection is served.
func TestSlowBodyTimesOut(t *testing.T) {
	api := newAPI(t, storetest.OpenSQLite(t), func(o *httpapi.Options) { o.ReadBodyTimeout = 200 * time.Millisecond })
	body := `{"dids":["did:plc:aaa"]}`
	c, err := net.Dial("tcp", strings.TrimPrefix(api.url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	// Headers and half the body, then nothing.
	_, err = fmt.Fprintf(c, "POST /repos/add HTTP/1.1\r\nHost: tap\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:len(body)/2])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	require.Zero(t, repoCount(t, api.db))
	requireEmpty(t, api.post("/repos/add", body))
	require.EqualValues(t, 1, repoCount(t, api.db))
}
