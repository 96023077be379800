package main

import (
	"slices"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/spf13/pflag"

	"github.com/tapkit/tap/config"
	"github.com/tapkit/tap/stages/filterstage"
)

// Values of the --type and --action filters of `tap tail`.
var (
	tailTypes   = []string{"record", "identity"}
	tailActions = []string{"create", "update", "delete"}
)

// tailFilter decides which events `tap tail` prints. Each flag is a list
// (repeatable or comma-separated) whose values are alternatives; different
// flags must all match. --collection and --action select record events.
type tailFilter struct {
	dids, collections, types, actions []string

	didSet, typeSet, actionSet map[string]bool
	collMatch                  *filterstage.Matcher // nil: any collection
}

func (f *tailFilter) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.dids, "did", nil, "print only events of these DIDs")
	fs.StringSliceVar(&f.collections, "collection", nil, "print only record events of these collections (NSIDs, or prefixes like app.bsky.*)")
	fs.StringSliceVar(&f.types, "type", nil, "print only events of these types (record, identity)")
	fs.StringSliceVar(&f.actions, "action", nil, "print only record events with these actions (create, update, delete)")
}

// compile checks the flag values and builds the lookups of matches.
func (f *tailFilter) compile() error {
	f.didSet, f.typeSet, f.actionSet = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, d := range f.dids {
		if _, err := syntax.ParseDID(d); err != nil {
			return usageErrorf("--did: invalid DID %q", d)
		}
		f.didSet[d] = true
	}
	for _, t := range f.types {
		if !slices.Contains(tailTypes, t) {
			return usageErrorf("--type: %q is not record or identity", t)
		}
		f.typeSet[t] = true
	}
	for _, a := range f.actions {
		if !slices.Contains(tailActions, a) {
			return usageErrorf("--action: %q is not create, update or delete", a)
		}
		f.actionSet[a] = true
	}
	for _, c := range f.collections {
		if err := config.ValidateCollectionFilter(c); err != nil {
			return usageErrorf("--collection: %v", err)
		}
	}
	if len(f.collections) > 0 {
		f.collMatch = filterstage.NewMatcher(f.collections)
	}
	if f.recordOnly() && len(f.typeSet) > 0 && !f.typeSet["record"] {
		return usageErrorf("--collection and --action select record events; they cannot be combined with --type identity alone")
	}
	return nil
}

// recordOnly reports whether a flag that only record events have is set.
func (f *tailFilter) recordOnly() bool { return f.collMatch != nil || len(f.actionSet) > 0 }

// tailEvent is what tail reads of an event to filter and ack it.
type tailEvent struct {
	ID     uint64 `json:"id"`
	Type   string `json:"type"`
	Record *struct {
		DID        string `json:"did"`
		Collection string `json:"collection"`
		Action     string `json:"action"`
	} `json:"record"`
	Identity *struct {
		DID string `json:"did"`
	} `json:"identity"`
}

// matches reports whether ev passes every filter.
func (f *tailFilter) matches(ev tailEvent) bool {
	if len(f.typeSet) > 0 && !f.typeSet[ev.Type] {
		return false
	}
	did := ""
	switch {
	case ev.Record != nil:
		did = ev.Record.DID
	case ev.Identity != nil:
		did = ev.Identity.DID
	}
	if len(f.didSet) > 0 && !f.didSet[did] {
		return false
	}
	if !f.recordOnly() {
		return true
	}
	if ev.Record == nil {
		return false
	}
	if len(f.actionSet) > 0 && !f.actionSet[ev.Record.Action] {
		return false
	}
	return f.collMatch == nil || f.collMatch.Match(ev.Record.Collection)
}
