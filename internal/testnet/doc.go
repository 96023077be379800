// Package testnet is a loopback atproto network built from indigo's own
// libraries, for tap's end-to-end tests and benchmarks and for developing
// against tap offline (`tap testnet`).
//
// A [Network] runs, on 127.0.0.1 listeners only:
//
//   - a PLC directory answering GET /{did} with each account's DID document;
//   - one or more PDS hosts serving com.atproto.sync.getRepo (a streamed,
//     signed repo CAR), listRepos, getLatestCommit, describeRepo and
//     /.well-known/atproto-did;
//   - a relay serving com.atproto.sync.subscribeRepos (Sync 1.1 #commit,
//     #sync, #identity, #account and #info frames with cursor replay),
//     listRepos and listReposByCollection;
//   - a DNS responder answering _atproto.<handle> TXT records, so handles
//     verify through indigo's identity.BaseDirectory without touching the
//     machine's resolver (see [NewDirectory]; tap uses the same
//     mechanism, dnsresolver.DialOnly, for identity.dns_resolver).
//
// Accounts have deterministic k256 keys, DIDs and .test handles derived
// from [Options.Seed]. Every record write is one signed commit applied to
// an in-memory MST and emitted on the firehose; [Network.GenerateHistory]
// builds large repos in bulk without emitting per-record events. The
// network keeps a ground truth of every repo ([Account.Snapshot]) and of
// every emitted event ([Network.Events]) so tests can compare what tap
// delivered with what happened. [Faults] injects broken artefacts on
// demand: PDS errors, broken CARs, forged or gapped commits, malformed
// frames and dropped connections.
//
// Live load: [Network.RunLoad] writes mixed create/update/delete commits at
// a rate; every commit costs one k256 signature (~33 µs here), so on a
// 2-core machine live generation tops out around 13,000–16,000 commits/s.
// [Network.StageLoad] generates a load ahead of time and
// [StagedLoad.Release] emits it at any rate (about 85,000–110,000 frames/s
// to one subscriber here), which is what throughput benchmarks of a
// consumer should use.
//
// Measuring (numbers from a quiet 2-core machine):
//
//	TESTNET_SCALE=1 go test -run TestScale -v -timeout 20m ./internal/testnet/
//	go test -run '^$' -bench 'BenchmarkLoad|BenchmarkStagedRelease' -benchtime 200000x ./internal/testnet/
//
// Nothing in this package resolves or dials a public host.
package testnet
