package verifystage

import (
	"context"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/store"
	"github.com/tapkit/tap/pipeline"
)

// accountStatuses are the #account statuses that change a repo's status;
// any other (throttled, desynchronized, missing) is ignored, as the
// reference Tap does.
var accountStatuses = map[string]store.AccountStatus{
	"deactivated": store.AccountStatusDeactivated,
	"takendown":   store.AccountStatusTakendown,
	"suspended":   store.AccountStatusSuspended,
	"deleted":     store.AccountStatusDeleted,
}

// identity handles #identity: purge the cached identity (and its parsed
// key), resolve it again and emit an identity event if the handle changed.
func (s *Stage) identity(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	r, ok, err := s.repo(ctx, ev.DID)
	if err != nil || !ok {
		return err
	}
	s.keys.forget(ev.DID)
	if err := s.dir.Purge(ctx, ev.DID.AtIdentifier()); err != nil {
		s.logger.Warn("purging identity", "did", ev.DID, "error", err)
	}
	handle, ok := s.resolveHandle(ctx, ev.DID)
	if !ok {
		return nil
	}
	return s.handleChanged(ctx, ev, r, handle, next)
}

// handleChanged emits an identity event when handle differs from the
// stored one.
func (s *Stage) handleChanged(ctx context.Context, ev *pipeline.Event, r store.RepoHead, handle syntax.Handle, next pipeline.Next) error {
	if handle == "" || string(handle) == r.Handle {
		return nil
	}
	s.Stats.IdentityChanges.Add(1)
	return next(ctx, &pipeline.Event{
		Kind: pipeline.KindIdentityChange, DID: ev.DID, Seq: ev.Seq, Live: ev.Live, Received: ev.Received,
		Change: &pipeline.IdentityChange{Handle: handle, IsActive: r.Status == store.AccountStatusActive, Status: string(r.Status)},
	})
}

// resolveHandle returns the DID's verified handle, handle.invalid when it
// does not verify, and ok false when the DID cannot be resolved at all.
func (s *Stage) resolveHandle(ctx context.Context, did syntax.DID) (syntax.Handle, bool) {
	ident, err := s.dir.LookupDID(ctx, did)
	if err != nil {
		s.logger.Warn("resolving identity", "did", did, "error", err)
		return "", false
	}
	if ident.Handle == "" {
		return syntax.HandleInvalid, true
	}
	return ident.Handle, true
}

// account handles #account: a changed status becomes an identity event
// (deleted also removes the repo, in the order stage's transaction).
func (s *Stage) account(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	msg := ev.Account
	status := store.AccountStatusActive
	if !msg.Active {
		st, known := accountStatuses[deref(msg.Status)]
		if !known {
			return nil
		}
		status = st
	}
	r, ok, err := s.repo(ctx, ev.DID)
	if err != nil || !ok || r.Status == status {
		return err
	}
	handle := syntax.Handle(r.Handle)
	if handle == "" {
		if handle, ok = s.resolveHandle(ctx, ev.DID); !ok {
			handle = syntax.HandleInvalid
		}
	}
	s.Stats.IdentityChanges.Add(1)
	return next(ctx, &pipeline.Event{
		Kind: pipeline.KindIdentityChange, DID: ev.DID, Seq: ev.Seq, Live: ev.Live, Received: ev.Received,
		Change: &pipeline.IdentityChange{Handle: handle, IsActive: msg.Active, Status: string(status)},
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
