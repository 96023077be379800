package verifystage

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/repo"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/ipfs/go-cid"

	"github.com/tapkit/tap/pipeline"
)

// commit verifies a #commit and emits its ops.
func (s *Stage) commit(ctx context.Context, ev *pipeline.Event, next pipeline.Next) error {
	msg := ev.Commit
	r, ok, err := s.repo(ctx, ev.DID)
	if err != nil || !ok {
		return err
	}
	if r.Rev != "" && msg.Rev <= r.Rev {
		s.Stats.Replays.Add(1)
		return nil
	}
	commit, err := s.signedCommit(ctx, ev.DID, msg.Blocks)
	if err != nil {
		return s.failed(ctx, ev, "commit", err)
	}
	tree, err := repo.VerifyCommitMessage(ctx, msg)
	if err != nil {
		return s.desync(ctx, ev, FailureCommit, fmt.Errorf("invalid commit %s: %w", msg.Rev, err))
	}
	prevData := ""
	if msg.PrevData != nil {
		prevData = cidString(cid.Cid(*msg.PrevData))
		if r.PrevData != "" && prevData != r.PrevData {
			return s.desync(ctx, ev, FailureChain, fmt.Errorf("commit %s: prevData %s does not match the stored data %s", msg.Rev, prevData, r.PrevData))
		}
	}
	ops, err := commitOps(ctx, msg.Ops, tree)
	if err != nil {
		return s.desync(ctx, ev, FailureOps, fmt.Errorf("commit %s: %w", msg.Rev, err))
	}
	s.Stats.Commits.Add(1)
	return next(ctx, &pipeline.Event{
		Kind: pipeline.KindRecords, DID: ev.DID, Seq: ev.Seq, Live: ev.Live, Received: ev.Received,
		Records: &pipeline.Records{Rev: msg.Rev, DataCID: cidString(commit.Data), PrevData: prevData, Ops: ops, Final: true},
	})
}

// signedCommit reads the commit block of a CAR slice and checks its
// structure (repo.LoadCommitFromCAR runs Commit.VerifyStructure), that it
// names did, and its signature.
func (s *Stage) signedCommit(ctx context.Context, did syntax.DID, car []byte) (*repo.Commit, error) {
	commit, _, err := repo.LoadCommitFromCAR(ctx, bytes.NewReader(car))
	if err != nil {
		return nil, fmt.Errorf("unreadable commit: %w", err)
	}
	if commit.DID != did.String() {
		return nil, fmt.Errorf("commit names %s, not the repo's DID %s", commit.DID, did)
	}
	if err := s.verifySigned(ctx, did, commit.VerifySignature); err != nil {
		return nil, err
	}
	return commit, nil
}

// failed marks the repo of a live event whose verification failed
// desynchronized. An identity that cannot be resolved right now counts as
// a failure too: the resync retries it with its own backoff, and the
// firehose never stalls on one repo.
func (s *Stage) failed(ctx context.Context, ev *pipeline.Event, what string, err error) error {
	return s.desync(ctx, ev, FailureSignature, fmt.Errorf("%s: %w", what, err))
}

// commitOps turns the ops of a commit that repo.VerifyCommitMessage
// accepted into record ops, reading record blocks from the verified CAR
// slice.
func commitOps(ctx context.Context, in []*comatproto.SyncSubscribeRepos_RepoOp, tree *repo.Repo) ([]pipeline.RecordOp, error) {
	ops := make([]pipeline.RecordOp, 0, len(in))
	for _, op := range in {
		coll, rkey, err := verifiedOpPath(op)
		if err != nil {
			return nil, fmt.Errorf("op path %q: %w", op.Path, err)
		}
		out := pipeline.RecordOp{Action: pipeline.Action(op.Action), Collection: coll, RKey: rkey}
		switch out.Action {
		case pipeline.ActionDelete:
		case pipeline.ActionCreate, pipeline.ActionUpdate:
			if op.Cid == nil {
				return nil, fmt.Errorf("%s of %s without a cid", op.Action, op.Path)
			}
			c := cid.Cid(*op.Cid)
			blk, err := tree.RecordStore.Get(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("record block %s of %s: %w", c, op.Path, err)
			}
			out.CID, out.Record = cidString(c), blk.RawData()
		default:
			return nil, fmt.Errorf("unknown op action %q", op.Action)
		}
		ops = append(ops, out)
	}
	return ops, nil
}

// verifiedOpPath splits the path of an op of a commit that
// repo.VerifyCommitMessage accepted. VerifyCommitMessage parses the path of
// every create and update with a CID with syntax.ParseRepoPath, and fails
// the commit if one does not parse: those are only split on their single
// '/', without the NSID and record key regexes again. Any other op's path
// (deletes, which indigo only uses as MST keys) is parsed here.
func verifiedOpPath(op *comatproto.SyncSubscribeRepos_RepoOp) (syntax.NSID, syntax.RecordKey, error) {
	if (op.Action == "create" || op.Action == "update") && op.Cid != nil {
		if coll, rkey, ok := strings.Cut(op.Path, "/"); ok {
			return syntax.NSID(coll), syntax.RecordKey(rkey), nil
		}
	}
	return syntax.ParseRepoPath(op.Path)
}

// sync handles #sync: a newer repo state that differs from ours means the
// repo must be fetched again.
func (s *Stage) sync(ctx context.Context, ev *pipeline.Event) error {
	msg := ev.Sync
	r, ok, err := s.repo(ctx, ev.DID)
	if err != nil || !ok {
		return err
	}
	if msg.Did != ev.DID.String() {
		return s.desync(ctx, ev, FailureSync, fmt.Errorf("#sync message names %s", msg.Did))
	}
	commit, err := s.signedCommit(ctx, ev.DID, msg.Blocks)
	if err != nil {
		return s.failed(ctx, ev, "#sync", err)
	}
	s.Stats.Syncs.Add(1)
	if r.Rev != "" && commit.Rev <= r.Rev || cidString(commit.Data) == r.PrevData {
		return nil
	}
	return s.desync(ctx, ev, FailureSync, fmt.Errorf("#sync to rev %s: the repo changed outside the commit stream", commit.Rev))
}
