package verifystage

// FailureReason is why an event failed verification: the reason label of
// tap_verify_failures_total. The set is small and fixed so that the metric
// stays low-cardinality; the full error is logged and stored in the repo's
// error or desync message.
type FailureReason int

// Failure reasons, one per verification step.
const (
	// FailureSignature is a commit block that is unreadable, names another
	// DID, or whose signature does not verify against the resolved identity
	// (an identity that cannot be resolved counts here too).
	FailureSignature FailureReason = iota
	// FailureCommit is a commit repo.VerifyCommitMessage refused (structure,
	// Sync 1.1 MST inversion).
	FailureCommit
	// FailureChain is a commit whose prevData is not the stored MST root.
	FailureChain
	// FailureOps is a commit op that cannot be turned into a record op.
	FailureOps
	// FailureSync is a #sync naming another DID or a repo state changed
	// outside the commit stream.
	FailureSync
	// FailureSnapshot is a fetched repo CAR that failed verification
	// (limits, block hashes, MST, commit DID, signature, rev).
	FailureSnapshot
	// NumFailureReasons is the number of reasons above.
	NumFailureReasons
)

// failureNames are the label values, by FailureReason.
var failureNames = [NumFailureReasons]string{"signature", "commit", "chain", "ops", "sync", "snapshot"}

// String returns the reason's label value.
func (r FailureReason) String() string {
	if r < 0 || r >= NumFailureReasons {
		return "unknown"
	}
	return failureNames[r]
}

// Failures returns how many events failed verification for reason r.
func (st *Stats) Failures(r FailureReason) uint64 {
	if r < 0 || r >= NumFailureReasons {
		return 0
	}
	return st.failures[r].Load()
}

// fail counts a verification failure for reason r.
func (st *Stats) fail(r FailureReason) { st.failures[r].Add(1) }
