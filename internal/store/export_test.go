package store

// Statement sizes, for the tests of package store_test.
const (
	// MaxStmtRows is maxStmtRows, the rows of the largest SQLite statement.
	MaxStmtRows = maxStmtRows
	// BatchSize is batchSize, the rows of the largest Postgres statement.
	BatchSize = batchSize
)
