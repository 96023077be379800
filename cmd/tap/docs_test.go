package main

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigurationReferenceListsEveryComponent fails when components()
// and the component list of internal/docgen differ, which it repeats
// because it cannot import this main package. Together with docgen's
// staleness test it means every registered type is documented.
func TestConfigurationReferenceListsEveryComponent(t *testing.T) {
	f, err := components()
	require.NoError(t, err)
	registered := map[string][]string{}
	for typ := range f.Sources {
		registered["source"] = append(registered["source"], typ)
	}
	for typ := range f.Stages {
		registered["stage"] = append(registered["stage"], typ)
	}
	for typ := range f.Sinks {
		registered["sink"] = append(registered["sink"], typ)
	}

	page, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	documented := map[string][]string{}
	for _, m := range regexp.MustCompile("(?m)^#### `([^`]+)` (source|stage|sink)$").FindAllStringSubmatch(string(page), -1) {
		documented[m[2]] = append(documented[m[2]], m[1])
	}

	for _, kind := range []string{"source", "stage", "sink"} {
		slices.Sort(registered[kind])
		require.Equal(t, registered[kind], documented[kind],
			"%s types registered in cmd/tap/components.go differ from those in docs/configuration.md: "+
				"update factories() in internal/docgen/components.go and run go generate ./internal/docgen", kind)
	}
}
