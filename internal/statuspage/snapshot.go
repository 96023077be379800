package statuspage

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tapkit/tap/internal/store"
)

// Snapshot is what the page shows, and the body of GET /status.json.
type Snapshot struct {
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	Uptime        string    `json:"uptime"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	Boundary      Boundary  `json:"boundary"`
	Relay         Relay     `json:"relay"`
	Repos         Repos     `json:"repos"`
	Events        Events    `json:"events"`
	Outbox        Outbox    `json:"outbox"`
	Sinks         []Sink    `json:"sinks"`
	// RecentErrors are the last warnings and errors logged, newest first.
	RecentErrors []LogRecord `json:"recent_errors"`
	// StoreError is set when the database could not be read; the counts it feeds are zero.
	StoreError string `json:"store_error,omitempty"`
}

// Boundary is the network boundary: which repos tap tracks.
type Boundary struct {
	Mode  Mode   `json:"mode"`
	Label string `json:"label"`
	// SignalCollection is the NSID of ModeSignalCollection.
	SignalCollection string `json:"signal_collection,omitempty"`
}

// Mode is a network boundary mode.
type Mode string

// Boundary modes.
const (
	// ModeFullNetwork tracks every repo on the network (scope.full_network).
	ModeFullNetwork Mode = "full_network"
	// ModeSignalCollection tracks repos with records in a collection (scope.signal_collection).
	ModeSignalCollection Mode = "signal_collection"
	// ModeTrackedRepos tracks only the repos added through the API.
	ModeTrackedRepos Mode = "tracked_repos"
)

// label is how the page names a mode.
func (m Mode) label() string {
	switch m {
	case ModeFullNetwork:
		return "Full network"
	case ModeSignalCollection:
		return "Signal collection"
	}
	return "Tracked repos only"
}

// Relay is the relay tap reads and how far it has read.
type Relay struct {
	// URL is the relay URL with any password hidden.
	URL string `json:"url"`
	// Firehose is false when no firehose source is configured; Cursor is then 0.
	Firehose bool `json:"firehose"`
	// Cursor is the seq of the last firehose event read (in memory, ahead of the saved one).
	Cursor int64 `json:"cursor"`
}

// Repos are the tracked repos by state.
type Repos struct {
	Total int64 `json:"total"`
	// ByState lists every state tap writes, in lifecycle order, then any other state found.
	ByState []StateCount `json:"by_state"`
	// Backfilled counts the repos in sync (state active); with Total it is the backfill
	// progress.
	Backfilled int64 `json:"backfilled"`
	// Percent is Backfilled/Total in percent, rounded down to a tenth (100 with no repo).
	Percent float64 `json:"percent"`
}

// StateCount is the number of repos in one state.
type StateCount struct {
	State string `json:"state"`
	Count int64  `json:"count"`
}

// Events are the event rates, from counters sampled every SampleInterval.
type Events struct {
	// InPerSec is the rate of events committed to the outbox (backfill and live), OutPerSec
	// the rate of events acked by every sink, FirehosePerSec the rate of firehose events
	// read; each over the last sample interval.
	InPerSec       float64 `json:"in_per_sec"`
	OutPerSec      float64 `json:"out_per_sec"`
	FirehosePerSec float64 `json:"firehose_per_sec"`
	// IntervalSeconds is the time between samples.
	IntervalSeconds float64 `json:"interval_seconds"`
	// Samples are the rates of the last Options.Samples intervals, oldest first.
	Samples []Sample `json:"samples"`
}

// Sample is the event rates over one sample interval, ending At.
type Sample struct {
	At       time.Time `json:"at"`
	In       float64   `json:"in"`
	Out      float64   `json:"out"`
	Firehose float64   `json:"firehose"`
}

// Outbox is the events committed and not yet acked by every sink.
type Outbox struct {
	Depth int64 `json:"depth"`
	// OldestPending is the age of the oldest event held for delivery ("" when none).
	OldestPending        string  `json:"oldest_pending"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
}

// Sink is one sink's delivery state.
type Sink struct {
	ID string `json:"id"`
	// Health is "ok", "failing" (a delivery failed in the last FailingWindow) or "no clients"
	// (a websocket sink nobody is connected to).
	Health    string     `json:"health"`
	Delivered uint64     `json:"delivered"`
	Acked     uint64     `json:"acked"`
	Failed    uint64     `json:"failed"`
	Queued    int        `json:"queued"`
	LastError string     `json:"last_error,omitempty"`
	LastAt    *time.Time `json:"last_error_at,omitempty"`
	// Clients is the number of connected clients of a websocket sink, absent for other sinks.
	Clients *int `json:"clients,omitempty"`
}

// Sink health values.
const (
	HealthOK        = "ok"
	HealthFailing   = "failing"
	HealthNoClients = "no clients"
)

// FailingWindow is how long after its last delivery error a sink shows as failing.
const FailingWindow = time.Minute

// snapshot reads everything the page shows.
func (p *Page) snapshot(ctx context.Context) Snapshot {
	now := time.Now()
	st := p.stats()
	up := now.Sub(p.started)
	s := Snapshot{
		Version: p.opts.Version, StartedAt: p.started.UTC(),
		Uptime: up.Round(time.Second).String(), UptimeSeconds: int64(up / time.Second),
		Boundary: Boundary{Mode: p.opts.Mode, Label: p.opts.Mode.label()},
		Relay:    Relay{URL: p.opts.RelayURL, Firehose: st.Firehose, Cursor: st.FirehoseSeq},
		Outbox:   Outbox{OldestPendingSeconds: st.OldestPending.Seconds()},
		Sinks:    sinks(st.Sinks, now),
	}
	if p.opts.Mode == ModeSignalCollection {
		s.Boundary.SignalCollection = p.opts.SignalCollection
	}
	if st.OldestPending > 0 {
		s.Outbox.OldestPending = st.OldestPending.Round(100 * time.Millisecond).String()
	}
	s.Events = p.events()
	s.RecentErrors = p.opts.Errors.Recent()
	slices.Reverse(s.RecentErrors)
	var err error
	if s.Repos, err = p.repos(ctx); err == nil {
		s.Outbox.Depth, err = p.opts.Store.CountOutbox(ctx)
	}
	if err != nil {
		s.StoreError = err.Error()
	}
	return s
}

// events returns the rates from the sampler.
func (p *Page) events() Events {
	e := Events{IntervalSeconds: p.interval.Seconds(), Samples: p.samples.rates()}
	if n := len(e.Samples); n > 0 {
		last := e.Samples[n-1]
		e.InPerSec, e.OutPerSec, e.FirehosePerSec = last.In, last.Out, last.Firehose
	}
	return e
}

// repos counts the tracked repos by state, every state tap writes listed.
func (p *Page) repos(ctx context.Context) (Repos, error) {
	counts, err := p.opts.Store.CountReposByState(ctx)
	if err != nil {
		return Repos{ByState: zeroStates()}, err
	}
	r := Repos{ByState: zeroStates()}
	known := len(r.ByState)
	for state, n := range counts {
		r.Total += n
		if state == store.RepoStateActive {
			r.Backfilled = n
		}
		i := slices.IndexFunc(r.ByState, func(s StateCount) bool { return s.State == string(state) })
		if i < 0 {
			r.ByState = append(r.ByState, StateCount{State: string(state), Count: n})
			continue
		}
		r.ByState[i].Count = n
	}
	// states tap does not write (a foreign database) follow, by name
	slices.SortFunc(r.ByState[known:], func(a, b StateCount) int { return strings.Compare(a.State, b.State) })
	r.Percent = 100
	if r.Total > 0 {
		r.Percent = math.Floor(float64(r.Backfilled)*1000/float64(r.Total)) / 10
	}
	return r, nil
}

// zeroStates lists every state tap writes with a zero count.
func zeroStates() []StateCount {
	states := []store.RepoState{store.RepoStatePending, store.RepoStateResyncing, store.RepoStateActive,
		store.RepoStateDesynchronized, store.RepoStateError}
	out := make([]StateCount, len(states))
	for i, st := range states {
		out[i] = StateCount{State: string(st)}
	}
	return out
}

// sinks turns the sinks' stats into what the page shows, with their health at now.
func sinks(stats []SinkStats, now time.Time) []Sink {
	out := make([]Sink, len(stats))
	for i, st := range stats {
		s := Sink{ID: st.ID, Health: HealthOK, Delivered: st.Delivered, Acked: st.Acked, Failed: st.Failed,
			Queued: st.Queued, LastError: st.LastError, Clients: st.Clients}
		if !st.LastErrorAt.IsZero() {
			at := st.LastErrorAt.UTC()
			s.LastAt = &at
		}
		switch {
		case st.LastError != "" && now.Sub(st.LastErrorAt) < FailingWindow:
			s.Health = HealthFailing
		case st.Clients != nil && *st.Clients == 0:
			s.Health = HealthNoClients
		}
		out[i] = s
	}
	return out
}
