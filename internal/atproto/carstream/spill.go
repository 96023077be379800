package carstream

import (
	"errors"
	"fmt"
	"os"
)

// spill is a temporary file: the store of a CAR that outgrew
// Options.MemoryBytes (its blocks, each stored as its 36-byte CID followed
// by its data) or the index builder's scratch file. On systems that allow it the file
// is unlinked right after creation, so nothing is left behind even if the
// process is killed.
type spill struct {
	f    *os.File
	name string // path still to remove at close; "" once unlinked
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "carstream-*.blocks")
	if err != nil {
		return nil, fmt.Errorf("carstream: creating spill file: %w", err)
	}
	sp := &spill{f: f, name: f.Name()}
	if os.Remove(sp.name) == nil {
		sp.name = ""
	}
	return sp, nil
}

// readAt fills b from offset off.
func (sp *spill) readAt(b []byte, off int64) error {
	if _, err := sp.f.ReadAt(b, off); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("carstream: reading spill file: %w", err)
	}
	return nil
}

func (sp *spill) close() error {
	err := sp.f.Close()
	if sp.name != "" {
		if rerr := os.Remove(sp.name); err == nil {
			err = rerr
		}
	}
	return err
}
