package atproto

import (
	"net"
	"net/http"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"

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

// NewDirectory returns a cached identity directory resolving did:plc through
// opts.PLCURL and did:web and handles over DNS and HTTPS.
func NewDirectory(opts DirectoryOptions) *identity.CacheDirectory {
	base := &identity.BaseDirectory{
		PLCURL:                opts.PLCURL,
		HTTPClient:            http.Client{Timeout: 10 * time.Second, Transport: NewTransport()},
		TryAuthoritativeDNS:   false,
		SkipDNSDomainSuffixes: []string{".bsky.social"},
		UserAgent:             opts.UserAgent,
	}
	if opts.DNSResolver != "" {
		base.Resolver = net.Resolver{PreferGo: true, Dial: dnsresolver.DialOnly(opts.DNSResolver)}
		base.SkipDNSDomainSuffixes = nil
	}
	dir := identity.NewCacheDirectory(base, opts.CacheSize, identityHitTTL, identityErrTTL, identityInvalidHandle)
	return dir
}
