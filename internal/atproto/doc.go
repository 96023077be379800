// Package atproto is the only code in tap that talks atproto on the wire:
// the identity directory, and (as they land) the firehose, getRepo and
// crawler clients. It wraps indigo's libraries.
package atproto
