package eventjson

import "unicode/utf8"

// JSON strings are written exactly as encoding/json writes them with its default settings:
// `"` and `\` escaped, \b \f \n \r \t short-escaped, other control characters as \u00XX, the
// HTML characters <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 as \u2028 and
// \u2029, invalid UTF-8 replaced by \ufffd, everything else (DEL included) copied.

const hexDigits = "0123456789abcdef"

// textSafe holds the bytes of valid UTF-8 that are copied unescaped: printable ASCII but `"`,
// `\`, <, > and &, and every byte of a multi-byte sequence but 0xE2, which starts U+2028 and
// U+2029.
var textSafe = func() (safe [256]bool) {
	for b := 0x20; b < 0x100; b++ {
		safe[b] = true
	}
	for _, b := range []byte{'"', '\\', '<', '>', '&', 0xe2} {
		safe[b] = false
	}
	return safe
}()

// appendText appends s, which must be valid UTF-8, as a JSON string.
func appendText(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if textSafe[b] {
			i++
			continue
		}
		if b == 0xe2 {
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9) {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xf])
				start = i + 3
			}
			i += 3 // 0xE2 always leads a three-byte sequence in valid UTF-8
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscapedASCII(dst, b)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendString appends s as a JSON string; unlike appendText it accepts invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if textSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, b)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendEscapedASCII appends the escape of an ASCII byte that textSafe says is not copied.
func appendEscapedASCII(dst []byte, b byte) []byte {
	switch b {
	case '"', '\\':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	default:
		return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
	}
}
