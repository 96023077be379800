package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// maxShownDIDErrors bounds how many invalid lines an error names.
const maxShownDIDErrors = 10

// didList collects the DIDs of `tap repos add|remove` from arguments and
// files, validating every one before anything is sent.
type didList struct {
	dids []string
	seen map[string]bool
	errs []string
	bad  int
}

// readDIDs returns the DIDs of args and files ("-" is stdin), in order
// and without duplicates. A file holds one DID per line; blank lines and
// lines starting with # are skipped. Any invalid DID fails the whole list,
// naming where it was.
func readDIDs(args, files []string, stdin io.Reader) ([]string, error) {
	l := &didList{seen: map[string]bool{}}
	for i, a := range args {
		if a == "-" {
			files = append(files, "-")
			continue
		}
		l.add(a, fmt.Sprintf("argument %d", i+1))
	}
	for _, name := range files {
		if err := l.readFile(name, stdin); err != nil {
			return nil, err
		}
	}
	if l.bad > 0 {
		msg := strings.Join(l.errs, "\n  ")
		if l.bad > len(l.errs) {
			msg += fmt.Sprintf("\n  … and %d more", l.bad-len(l.errs))
		}
		return nil, usageErrorf("%d invalid DIDs, nothing was sent:\n  %s", l.bad, msg)
	}
	if len(l.dids) == 0 {
		return nil, usageErrorf("no DIDs given (as arguments, or -f FILE, or - for stdin)")
	}
	return l.dids, nil
}

// add validates one DID found at where.
func (l *didList) add(s, where string) {
	if _, err := syntax.ParseDID(s); err != nil {
		l.bad++
		if len(l.errs) < maxShownDIDErrors {
			l.errs = append(l.errs, fmt.Sprintf("%s: invalid DID %q", where, s))
		}
		return
	}
	if !l.seen[s] {
		l.seen[s] = true
		l.dids = append(l.dids, s)
	}
}

// readFile adds the DIDs of one file, "-" being stdin.
func (l *didList) readFile(name string, stdin io.Reader) error {
	r, shown := stdin, "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r, shown = f, name
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		l.add(line, fmt.Sprintf("%s:%d", shown, n))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s: a line is longer than %d bytes", shown, bufio.MaxScanTokenSize)
		}
		return fmt.Errorf("reading %s: %w", shown, err)
	}
	return nil
}
