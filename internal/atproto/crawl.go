package atproto

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	comatproto "github.com/bluesky-social/indigo/api/atproto"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Crawl client defaults.
const (
	// DefaultCrawlTimeout bounds one listing request.
	DefaultCrawlTimeout = 30 * time.Second
	// MaxCrawlPageSize is the largest page the listing endpoints serve.
	MaxCrawlPageSize = 1000

	maxListingBytes = 32 << 20
)

// CrawlOptions configure a CrawlClient.
type CrawlOptions struct {
	// RelayURL is the relay's http(s) base URL.
	RelayURL string
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// Timeout bounds one request; zero means DefaultCrawlTimeout.
	Timeout time.Duration
}

// RepoPage is one page of a repo listing.
type RepoPage struct {
	// DIDs are the listed repos that are active and have a valid DID, in
	// listing order.
	DIDs []string
	// Cursor continues the listing; "" means the listing is complete.
	Cursor string
	// Listed is how many entries the page had.
	Listed int
	// Inactive is how many entries were skipped for active == false.
	Inactive int
	// Invalid is how many entries were skipped for an invalid DID.
	Invalid int
}

// CrawlClient pages com.atproto.sync.listRepos and listReposByCollection on
// a relay.
type CrawlClient struct {
	base   *url.URL
	ua     string
	client *http.Client
}

// NewCrawlClient returns a client for the relay at opts.RelayURL.
func NewCrawlClient(opts CrawlOptions) (*CrawlClient, error) {
	u, err := url.Parse(opts.RelayURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("relay URL %q: must be an http:// or https:// URL", opts.RelayURL)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = string(DefaultUserAgent())
	}
	return &CrawlClient{
		base:   u,
		ua:     opts.UserAgent,
		client: &http.Client{Timeout: orDefault(opts.Timeout, DefaultCrawlTimeout), Transport: NewTransport()},
	}, nil
}

// ListRepos fetches one page of com.atproto.sync.listRepos; repos with
// active == false are skipped (a missing active means active).
func (c *CrawlClient) ListRepos(ctx context.Context, cursor string, limit int) (RepoPage, error) {
	var out comatproto.SyncListRepos_Output
	if err := c.get(ctx, "com.atproto.sync.listRepos", url.Values{}, cursor, limit, &out); err != nil {
		return RepoPage{}, err
	}
	page := RepoPage{Cursor: deref(out.Cursor), Listed: len(out.Repos)}
	for _, r := range out.Repos {
		if r == nil {
			page.Invalid++
			continue
		}
		if r.Active != nil && !*r.Active {
			page.Inactive++
			continue
		}
		page.add(r.Did)
	}
	return page, nil
}

// ListReposByCollection fetches one page of
// com.atproto.sync.listReposByCollection for collection.
func (c *CrawlClient) ListReposByCollection(ctx context.Context, collection syntax.NSID, cursor string, limit int) (RepoPage, error) {
	var out comatproto.SyncListReposByCollection_Output
	q := url.Values{"collection": []string{collection.String()}}
	if err := c.get(ctx, "com.atproto.sync.listReposByCollection", q, cursor, limit, &out); err != nil {
		return RepoPage{}, err
	}
	page := RepoPage{Cursor: deref(out.Cursor), Listed: len(out.Repos)}
	for _, r := range out.Repos {
		if r == nil {
			page.Invalid++
			continue
		}
		page.add(r.Did)
	}
	return page, nil
}

func (p *RepoPage) add(did string) {
	if _, err := syntax.ParseDID(did); err != nil {
		p.Invalid++
		return
	}
	p.DIDs = append(p.DIDs, did)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// get calls the XRPC query method with q plus cursor and limit and decodes
// the JSON answer into out. Bodies are bounded; non-2xx answers become
// errors naming the status and the XRPC error.
func (c *CrawlClient) get(ctx context.Context, method string, q url.Values, cursor string, limit int, out any) error {
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(min(limit, MaxCrawlPageSize)))
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/xrpc/" + method
	u.RawPath, u.RawQuery, u.Fragment = "", q.Encode(), ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxListingBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var xe struct{ Error, Message string }
		_ = json.NewDecoder(body).Decode(&xe)
		return fmt.Errorf("%s: HTTP %d %s: %s", method, resp.StatusCode, xe.Error, xe.Message)
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("%s: decoding response: %w", method, err)
	}
	return nil
}
