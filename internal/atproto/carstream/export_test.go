package carstream

// Spilled reports whether s keeps its blocks in a spill file rather than
// in memory.
func Spilled(s *Snapshot) bool { return s.store.sp != nil }
