package crawlersource

import (
	"context"
	"fmt"

	"github.com/tapkit/tap/internal/atproto"
)

// pass enumerates the listing from the saved cursor to its end, adding
// every listed repo and saving the cursor after each page; a complete pass
// resets the saved cursor so that the next pass starts over.
func (s *Source) pass(ctx context.Context, tg target) error {
	cursor, err := s.loadCursor(ctx, tg)
	if err != nil {
		return err
	}
	for {
		page, err := s.fetch(ctx, tg, cursor)
		if err != nil {
			return err
		}
		if err := s.add(ctx, page); err != nil {
			return err
		}
		next := page.Cursor
		if next == "" || next == cursor {
			if next != "" {
				s.log.Warn("relay returned the cursor it was given; ending the pass", "cursor", cursor)
			}
			return s.saveCursor(ctx, tg, "")
		}
		if err := s.saveCursor(ctx, tg, next); err != nil {
			return err
		}
		cursor = next
	}
}

// fetch reads one page of the target's listing.
func (s *Source) fetch(ctx context.Context, tg target, cursor string) (atproto.RepoPage, error) {
	var page atproto.RepoPage
	var err error
	if tg.mode == modeCollection {
		page, err = s.client.ListReposByCollection(ctx, tg.collection, cursor, s.cfg.PageSize)
	} else {
		page, err = s.client.ListRepos(ctx, cursor, s.cfg.PageSize)
	}
	if err != nil {
		return page, err
	}
	s.pages.Add(1)
	s.skipped.Add(uint64(page.Inactive + page.Invalid))
	return page, nil
}

// add starts tracking the page's repos (new ones as pending; known ones
// are left as they are).
func (s *Source) add(ctx context.Context, page atproto.RepoPage) error {
	if len(page.DIDs) == 0 {
		return nil
	}
	n, err := s.db.AddRepos(ctx, page.DIDs)
	if err != nil {
		return fmt.Errorf("adding discovered repos: %w", err)
	}
	s.discovered.Add(uint64(len(page.DIDs)))
	s.added.Add(uint64(n))
	return nil
}

// loadCursor reads the target's saved cursor ("" = from the beginning).
func (s *Source) loadCursor(ctx context.Context, tg target) (string, error) {
	if tg.mode == modeCollection {
		return s.db.GetCollectionCursor(ctx, s.relayURL, tg.collection.String())
	}
	return s.db.GetListReposCursor(ctx, s.relayURL)
}

// saveCursor stores the target's cursor.
func (s *Source) saveCursor(ctx context.Context, tg target, cursor string) error {
	if tg.mode == modeCollection {
		return s.db.SaveCollectionCursor(ctx, s.relayURL, tg.collection.String(), cursor)
	}
	return s.db.SaveListReposCursor(ctx, s.relayURL, cursor)
}
