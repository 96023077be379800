package atproto

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/tapkit/tap/internal/dnsresolver"
)

// DirectoryOptions configure the identity directory.
type DirectoryOptions struct {
	// PLCURL is the PLC directory's base URL.
	PLCURL string
	// CacheSize is how many identities are cached.
	CacheSize int
	// DNSResolver, when set, is the host:port of the only DNS server used
	// for handle resolution (private networks and tests); empty means the
	// system resolver.
	DNSResolver string
	// UserAgent is sent with PLC and well-known requests.
	UserAgent string
}

// Cache lifetimes, as the reference Tap uses them.
const (
	identityHitTTL        = 24 * time.Hour
	identityErrTTL        = 2 * time.Minute
	identityInvalidHandle = 5 * time.Minute
)

// MaxIdentityBodyBytes bounds one DID document or handle well-known
// response. A PLC document is a few kilobytes (the PLC directory caps an
// operation at 7500 bytes); indigo reads the body whole, so without a bound
// one lookup against a hostile directory could allocate without limit.
const MaxIdentityBodyBytes = 1 << 20

// errBodyTooLarge reports a response body over MaxIdentityBodyBytes.
type errBodyTooLarge struct {
	host string
	max  int64
}

func (e errBodyTooLarge) Error() string {
	return fmt.Sprintf("identity response from %s exceeds %d bytes", e.host, e.max)
}

// limitedTransport fails responses whose body is longer than max: at once
// when Content-Length says so, else when the reader passes max.
type limitedTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	tooLarge := errBodyTooLarge{host: req.URL.Host, max: t.max}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close()
		return nil, tooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, err: tooLarge}
	return resp, nil
}

// limitedBody reads at most left bytes and then fails with err.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit is enough to detect it
	}
	n, err := b.rc.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, b.err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// NewDirectory returns a cached identity directory resolving did:plc through
// opts.PLCURL and did:web and handles over DNS and HTTPS.
func NewDirectory(opts DirectoryOptions) *identity.CacheDirectory {
	base := &identity.BaseDirectory{
		PLCURL:                opts.PLCURL,
		HTTPClient:            http.Client{Timeout: 10 * time.Second, Transport: limitedTransport{NewTransport(), MaxIdentityBodyBytes}},
		TryAuthoritativeDNS:   false,
		SkipDNSDomainSuffixes: []string{".bsky.social"},
		UserAgent:             opts.UserAgent,
	}
	if opts.DNSResolver != "" {
		base.Resolver = net.Resolver{PreferGo: true, Dial: dnsresolver.DialOnly(opts.DNSResolver)}
		base.SkipDNSDomainSuffixes = nil
	}
	dir := identity.NewCacheDirectory(lenientDirectory{base}, opts.CacheSize, identityHitTTL, identityErrTTL, identityInvalidHandle)
	return dir
}

// lenientDirectory is indigo's base directory, except that a DID document
// declaring something that can never be a valid handle — bad syntax, or a
// TLD reserved from use such as .example or .local — gives the identity
// the handle handle.invalid, as a handle that does not resolve does.
// indigo fails the whole lookup instead, which would leave such a repo
// unsyncable forever: its commits and its key are fine, only the handle is
// unverified.
type lenientDirectory struct{ *identity.BaseDirectory }

// LookupDID resolves did and verifies its handle, leniently.
func (d lenientDirectory) LookupDID(ctx context.Context, did syntax.DID) (*identity.Identity, error) {
	ident, err := d.BaseDirectory.LookupDID(ctx, did)
	if err == nil {
		return ident, nil
	}
	doc, rerr := d.ResolveDID(ctx, did)
	if rerr != nil {
		return nil, err
	}
	parsed := identity.ParseIdentity(doc)
	handle, herr := parsed.DeclaredHandle()
	if herr == nil && handle.AllowedTLD() {
		return nil, err // the handle is well-formed: the error is a real resolution failure
	}
	parsed.Handle = syntax.HandleInvalid
	return &parsed, nil
}

// Lookup resolves a handle or a DID; DIDs go through the lenient LookupDID.
func (d lenientDirectory) Lookup(ctx context.Context, atid syntax.AtIdentifier) (*identity.Identity, error) {
	if did, err := atid.AsDID(); err == nil {
		return d.LookupDID(ctx, did)
	}
	return d.BaseDirectory.Lookup(ctx, atid)
}
