package httpapi_test

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/tapkit/tap/internal/httpapi"
	"github.com/tapkit/tap/internal/store"
)

var errBroken = errors.New("database is on fire")

// basicAuth renders an Authorization header value.
func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// panicStore panics on CountRepos and delegates everything else.
type panicStore struct{ httpapi.Store }

func (panicStore) CountRepos(context.Context) (int64, error) { panic("boom") }

// errStore fails every call.
type errStore struct{}

var _ httpapi.Store = errStore{}

func (errStore) AddRepos(context.Context, []string) (int64, error) { return 0, errBroken }
func (errStore) RemoveRepos(context.Context, []string) error       { return errBroken }
func (errStore) GetRepo(context.Context, string) (store.Repo, error) {
	return store.Repo{}, errBroken
}
func (errStore) ListRepos(context.Context, store.ListReposQuery) ([]store.Repo, error) {
	return nil, errBroken
}
func (errStore) CountRepos(context.Context) (int64, error)                 { return 0, errBroken }
func (errStore) CountRecords(context.Context) (int64, error)               { return 0, errBroken }
func (errStore) CountOutbox(context.Context) (int64, error)                { return 0, errBroken }
func (errStore) CountResyncBuffer(context.Context) (int64, error)          { return 0, errBroken }
func (errStore) CountRecordsForDID(context.Context, string) (int64, error) { return 0, errBroken }
func (errStore) GetFirehoseCursor(context.Context, string) (int64, error)  { return 0, errBroken }
func (errStore) GetListReposCursor(context.Context, string) (string, error) {
	return "", errBroken
}
func (errStore) GetCollectionCursor(context.Context, string, string) (string, error) {
	return "", errBroken
}

// countErrStore finds the repo but fails to count its records.
type countErrStore struct{ httpapi.Store }

func (countErrStore) CountRecordsForDID(context.Context, string) (int64, error) {
	return 0, errBroken
}
