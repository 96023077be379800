package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// `tap health` (the image's HEALTHCHECK) succeeds against a running tap
// found through TAP_BIND and TAP_ADMIN_PASSWORD, and fails with a clear
// message on a wrong password or when nothing listens.
func TestHealthCommand(t *testing.T) {
	net, _ := startNetwork(t, 1, 1)
	env := testEnv(net, sqliteURL(t))
	env["TAP_ADMIN_PASSWORD"] = "s3cret-health"
	ti := startTap(t, net, env, nil)
	_, port, _ := strings.Cut(ti.addr, ":")

	t.Setenv("TAP_URL", "")
	t.Setenv("TAP_BIND", "0.0.0.0:"+port) // as in the image: every interface, checked on loopback
	t.Setenv("TAP_ADMIN_PASSWORD", "s3cret-health")
	var out, errOut bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"health"}, &out, &errOut))
	require.Equal(t, "ok http://127.0.0.1:"+port+"\n", out.String())

	t.Setenv("TAP_ADMIN_PASSWORD", "wrong")
	err := run(t.Context(), []string{"health"}, &out, &errOut)
	require.ErrorContains(t, err, "not healthy: GET http://127.0.0.1:"+port+"/health: HTTP 401")
	require.NotContains(t, err.Error(), "wrong")

	err = run(t.Context(), []string{"health", "--url", "http://admin:pw-in-url@127.0.0.1:1", "--timeout", "2s"}, &out, &errOut)
	require.ErrorContains(t, err, "not healthy: GET http://admin:xxxxx@127.0.0.1:1/health")
	require.NotContains(t, err.Error(), "pw-in-url")

	ti.stop()
	start := time.Now()
	require.Error(t, run(t.Context(), []string{"health", "--timeout", "2s"}, &out, &errOut))
	require.Less(t, time.Since(start), 10*time.Second)
}

// The Dockerfile builds this binary, runs it as a non-root user with its
// database on the /data volume, and checks it with a command tap has. (No
// image is built in tests: the machine has no container runtime or registry.)
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	df := strings.ReplaceAll(string(raw), "\\\n", " ") // join continued lines
	require.Regexp(t, `(?m)^FROM \S+ AS build$`, df, "multi-stage: a build stage")
	require.Equal(t, 2, len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)), "a build and a runtime stage")
	require.Regexp(t, `go build .*-X main\.version=\$\{VERSION\}.* \./cmd/tap\b`, df)
	require.Regexp(t, `(?m)^USER tap:tap$`, df)
	require.Regexp(t, `(?m)^WORKDIR /data$`, df, "the default sqlite://tap.db lands on the volume")
	require.Regexp(t, `(?m)^VOLUME /data$`, df)
	require.Regexp(t, `(?m)^EXPOSE 2480$`, df)
	require.Regexp(t, `(?m)^HEALTHCHECK .*CMD \["tap", "health"\]$`, df)
	require.Regexp(t, `(?m)^ENTRYPOINT \["tini", "--", "tap"\]$`, df)
	require.Regexp(t, `(?m)^CMD \["run"\]$`, df)
	var out bytes.Buffer
	require.ErrorIs(t, run(t.Context(), []string{"health", "--help"}, &out, &out), errHelpShown, "the HEALTHCHECK command exists")
	require.Contains(t, out.String(), "--admin-password")
}
