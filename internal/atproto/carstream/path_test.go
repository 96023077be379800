package carstream

import (
	"strings"
	"testing"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// FuzzRecordKey checks that validRecordKey agrees with indigo's
// syntax.ParseRecordKey on every input.
func FuzzRecordKey(f *testing.F) {
	for _, s := range []string{"", ".", "..", "...", "3kabcdefghijk", "self", "a b", "a/b", "é",
		"literal:self", "_~.-:", strings.Repeat("a", 512), strings.Repeat("a", 513), "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := syntax.ParseRecordKey(s)
		if got := validRecordKey(s); got != (err == nil) {
			t.Fatalf("validRecordKey(%q) = %v, ParseRecordKey error %v", s, got, err)
		}
	})
}
