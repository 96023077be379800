// Package verifystage is the `verify` stage: the only place in tap that
// trusts nothing. Every ingest path goes through it.
//
//   - #commit: the commit's signature against the key of the DID named in
//     the commit (resolved through the identity directory, and parsed once
//     per DID and key declaration: keys.go; on failure the identity and its
//     parsed key are purged and re-resolved once, for key rotations); the
//     commit DID equals the repo DID; the rev is newer than the stored one
//     (older or equal revs are replays and are skipped); indigo's
//     repo.VerifyCommitMessage (op CIDs against the MST, Sync 1.1 inversion
//     of the ops against the message's prevData); and the message's
//     prevData equals the stored data CID (the chain). The output is one
//     Records event with the ops and their record blocks.
//   - #sync: the signature, and the commit DID equals the message DID; a
//     newer rev with a different data CID means the repo changed outside
//     the commit stream: it is marked desynchronized for a resync.
//   - #identity: the identity is purged and resolved again; a changed handle
//     (or handle.invalid when it no longer verifies) becomes an identity
//     event.
//   - #account: a changed account status becomes an identity event.
//   - snapshot: the CAR is streamed into a spill file (bounded memory),
//     every block hash checked; the commit's DID equals the repo's, its
//     signature verifies, its rev is not older than the stored rev; the
//     whole MST is walked (a partial tree or a missing record block fails)
//     and merged with the record index into creates, updates and deletes,
//     emitted in batches.
//
// A live commit that fails verification or breaks the chain marks its repo
// desynchronized, with the reason in error_msg (visible in /info), counted
// and logged once; the backfill stage then resyncs it. It is never silently
// dropped and never crashes the process. A snapshot that fails returns a
// permanent error, which the backfill stage records as the repo's error.
package verifystage
