package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNothingOfTap checks that the SDK (and everything it imports)
// depends on no other package of tap, so that a plugin pulls in the SDK
// alone.
func TestImportsNothingOfTap(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	const module = "github.com/tapkit/tap/"
	const allowed = "github.com/tapkit/tap/plugins/sdk"
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{.ImportPath}}", allowed+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var n int
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module) {
			continue
		}
		n++
		if pkg != allowed && !strings.HasPrefix(pkg, allowed+"/") {
			t.Errorf("the SDK depends on %s", pkg)
		}
	}
	if n < 3 {
		t.Fatalf("go list found only %d SDK packages: %s", n, out)
	}
}
