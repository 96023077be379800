package testnet

import (
	"bytes"
	"fmt"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/events"
	lexutil "github.com/bluesky-social/indigo/lex/util"
	"github.com/ipfs/go-cid"
)

// serialize encodes one event-stream frame (header + body CBOR).
func serialize(evt *events.XRPCStreamEvent) ([]byte, error) {
	var buf bytes.Buffer
	if err := evt.Serialize(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func lexLink(c cid.Cid) *lexutil.LexLink {
	if !c.Defined() {
		return nil
	}
	l := lexutil.LexLink(c)
	return &l
}

// emitCommitLocked emits res as a #commit, applying fault. The caller
// holds a.mu, so an account's commits enter the log in rev order.
func (a *Account) emitCommitLocked(res *commitResult, fault CommitFault) (Event, error) {
	ev := Event{
		Kind: KindCommit, Time: time.Now(), DID: a.did, Rev: syntax.TID(res.commit.Rev),
		Since: res.since, Commit: res.commitCID, PrevData: res.prevData, Ops: res.ops, Fault: fault,
	}
	if fault == CommitFaultSkipped {
		a.net.faults.recordSkipped(ev)
		return Event{Kind: KindCommit, DID: a.did, Rev: ev.Rev, Fault: fault, Ops: res.ops}, nil
	}
	msg, err := a.commitMessage(res, fault)
	if err != nil {
		return Event{}, err
	}
	ev.Commit, ev.PrevData = cid.Cid(msg.Commit), prevDataOf(msg)
	return a.net.events.append(ev, true, func(seq int64) ([]byte, error) {
		msg.Seq = seq
		return serialize(&events.XRPCStreamEvent{RepoCommit: msg})
	})
}

func prevDataOf(msg *comatproto.SyncSubscribeRepos_Commit) cid.Cid {
	if msg.PrevData == nil {
		return cid.Undef
	}
	return cid.Cid(*msg.PrevData)
}

// commitMessage builds the #commit body (without seq) for res.
func (a *Account) commitMessage(res *commitResult, fault CommitFault) (*comatproto.SyncSubscribeRepos_Commit, error) {
	commitCID, commitBytes := res.commitCID, a.repo.store.get(res.commitCID)
	if fault == CommitFaultBadSignature {
		forged := res.commit
		b, c, err := signCommit(&forged, forgeryKey(a.net.opts.Seed))
		if err != nil {
			return nil, err
		}
		commitCID, commitBytes = c, b
	}
	car, err := commitCAR(res, commitCID, commitBytes)
	if err != nil {
		return nil, err
	}
	msg := &comatproto.SyncSubscribeRepos_Commit{
		Repo: a.did.String(), Rev: res.commit.Rev, Time: syntax.DatetimeNow().String(),
		Blocks: car, Commit: lexutil.LexLink(commitCID), PrevData: lexLink(res.prevData),
		Ops: wireOps(res.ops), Blobs: []lexutil.LexLink{},
	}
	if res.since != "" {
		s := res.since.String()
		msg.Since = &s
	}
	if fault == CommitFaultBadPrevData {
		msg.PrevData = lexLink(bogusCID(a.did, res.commit.Rev))
	}
	return msg, nil
}

// bogusCID is a well-formed CID that names no block of the repo.
func bogusCID(did syntax.DID, rev string) cid.Cid {
	c, _ := cborPrefix.Sum([]byte("testnet-bogus:" + did.String() + rev))
	return c
}

func wireOps(ops []Op) []*comatproto.SyncSubscribeRepos_RepoOp {
	out := make([]*comatproto.SyncSubscribeRepos_RepoOp, len(ops))
	for i, op := range ops {
		out[i] = &comatproto.SyncSubscribeRepos_RepoOp{
			Action: string(op.Action), Path: op.Path(), Cid: lexLink(op.CID), Prev: lexLink(op.Prev),
		}
	}
	return out
}

// emitSync emits #sync with the current commit. Caller holds a.mu.
func (a *Account) emitSync() (Event, error) {
	r := a.repo
	ev := Event{Kind: KindSync, Time: time.Now(), DID: a.did, Rev: r.rev, Commit: r.commitCID}
	car := singleBlockCAR(r.commitCID, r.commitBytes)
	return a.net.events.append(ev, true, func(seq int64) ([]byte, error) {
		return serialize(&events.XRPCStreamEvent{RepoSync: &comatproto.SyncSubscribeRepos_Sync{
			Did: a.did.String(), Rev: r.rev.String(), Blocks: car, Seq: seq, Time: syntax.DatetimeNow().String(),
		}})
	})
}

// emitIdentity emits #identity with the current handle. Caller holds a.mu.
func (a *Account) emitIdentity() (Event, error) {
	ev := Event{Kind: KindIdentity, Time: time.Now(), DID: a.did, Handle: a.handle}
	h := a.handle.String()
	return a.net.events.append(ev, true, func(seq int64) ([]byte, error) {
		return serialize(&events.XRPCStreamEvent{RepoIdentity: &comatproto.SyncSubscribeRepos_Identity{
			Did: a.did.String(), Handle: &h, Seq: seq, Time: syntax.DatetimeNow().String(),
		}})
	})
}

// emitAccount emits #account with the current status. Caller holds a.mu.
func (a *Account) emitAccount() (Event, error) {
	active := a.status == StatusActive
	ev := Event{Kind: KindAccount, Time: time.Now(), DID: a.did, Active: active, Status: a.status}
	var status *string
	if !active {
		s := string(a.status)
		status = &s
	}
	return a.net.events.append(ev, true, func(seq int64) ([]byte, error) {
		return serialize(&events.XRPCStreamEvent{RepoAccount: &comatproto.SyncSubscribeRepos_Account{
			Did: a.did.String(), Active: active, Status: status, Seq: seq, Time: syntax.DatetimeNow().String(),
		}})
	})
}

// EmitInfo broadcasts an #info frame (e.g. name "OutdatedCursor") to
// every connected subscriber.
func (n *Network) EmitInfo(name, message string) (Event, error) {
	ev := Event{Kind: KindInfo, Time: time.Now(), Info: name}
	frame, err := infoFrame(name, message)
	if err != nil {
		return Event{}, err
	}
	return n.events.append(ev, false, func(int64) ([]byte, error) { return frame, nil })
}

func infoFrame(name, message string) ([]byte, error) {
	info := &comatproto.SyncSubscribeRepos_Info{Name: name}
	if message != "" {
		info.Message = &message
	}
	return serialize(&events.XRPCStreamEvent{RepoInfo: info})
}

func errorFrame(name, message string) ([]byte, error) {
	return serialize(&events.XRPCStreamEvent{Error: &events.ErrorFrame{Error: name, Message: message}})
}

// replayCommit re-emits an old #commit frame under a new seq.
func replayCommit(n *Network, old Event, frame []byte) (Event, error) {
	var evt events.XRPCStreamEvent
	if err := evt.Deserialize(bytes.NewReader(frame)); err != nil || evt.RepoCommit == nil {
		return Event{}, fmt.Errorf("testnet: decode logged commit: %w", err)
	}
	old.Time = time.Now()
	return n.events.append(old, true, func(seq int64) ([]byte, error) {
		evt.RepoCommit.Seq = seq
		return serialize(&evt)
	})
}
