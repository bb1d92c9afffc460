package features

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// JA4Len is the length of a JA4 fingerprint: 10 + 1 + 12 + 1 + 12.
const JA4Len = 36

// Bounds of what ja4 hashes. A ClientHello with more cipher suites,
// extensions or signature algorithms than these gets no fingerprint
// rather than a wrong one (real clients offer a few dozen at most).
const (
	ja4MaxCiphers = 256
	ja4MaxExts    = 128
	ja4MaxSigAlgs = 64
)

// clientHello is what vigil reads from a TLS ClientHello: the hints'
// version and server name length, and the lists JA4 hashes. GREASE
// values are left out of every list.
type clientHello struct {
	version   uint16 // the handshake's legacy_version
	supported uint16 // highest supported_versions entry, 0 when none
	sniLen    int    // length of the first server name, -1 without server_name
	sni       bool   // a server_name extension is present
	alpn      [2]byte
	// whole: the message and every list in it were complete and within
	// the bounds below, so the lists are all of them.
	whole   bool
	ciphers [ja4MaxCiphers]uint16
	exts    [ja4MaxExts]uint16 // without server_name and ALPN
	sigs    [ja4MaxSigAlgs]uint16
	nc, nh  int // ciphers, exts held
	ne, ns  int // extensions counted (with server_name and ALPN), sigs held
	tooMany bool
}

// parseClientHello reads the ClientHello handshake message at the start of
// hs (handshake type 1, 3-byte length) into h, as far as hs holds it: a
// ClientHello split over TCP segments or cut by the snap length still
// gives its version and server name when they are in hs (vigil does not
// reassemble), but not h.whole. It reports false when hs does not hold
// even the version and random. Allocation-free.
func parseClientHello(hs []byte, h *clientHello) bool {
	*h = clientHello{sniLen: -1, alpn: [2]byte{'0', '0'}}
	if len(hs) < 4+34 || hs[0] != 1 {
		return false
	}
	n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
	b := hs[4:]
	whole := 4+n <= len(hs)
	if whole {
		b = b[:n]
	}
	if len(b) < 34 {
		return false
	}
	h.version = binary.BigEndian.Uint16(b)
	i := 34 // version(2) random(32)
	if i >= len(b) {
		return true
	}
	i += 1 + int(b[i]) // session id
	if i+2 > len(b) {
		return true
	}
	cl := int(binary.BigEndian.Uint16(b[i:]))
	i += 2
	if cl%2 != 0 {
		return true
	}
	for k := 0; k < cl && i+k+2 <= len(b); k += 2 {
		c := binary.BigEndian.Uint16(b[i+k:])
		if grease(c) {
			continue
		}
		if h.nc == len(h.ciphers) {
			h.tooMany = true
			break
		}
		h.ciphers[h.nc] = c
		h.nc++
	}
	i += cl
	if i >= len(b) {
		return true
	}
	i += 1 + int(b[i]) // compression methods
	if i > len(b) {
		return true
	}
	if i+2 <= len(b) {
		el := int(binary.BigEndian.Uint16(b[i:]))
		i += 2
		e := b[i:]
		if i+el <= len(b) {
			e = b[i : i+el]
		} else {
			whole = false
		}
		for len(e) > 0 {
			if len(e) < 4 {
				return true
			}
			typ, l := binary.BigEndian.Uint16(e), int(binary.BigEndian.Uint16(e[2:]))
			if 4+l > len(e) {
				return true
			}
			body := e[4 : 4+l]
			e = e[4+l:]
			if grease(typ) {
				continue
			}
			h.ne++
			switch typ {
			case 0x0000: // server_name: list length(2) type(1) length(2) name
				h.sni = true
				if len(body) >= 5 {
					h.sniLen = int(binary.BigEndian.Uint16(body[3:]))
				}
				continue
			case 0x0010: // ALPN: list length(2), first protocol: length(1) name
				if len(body) >= 3 && int(body[2]) > 0 && 3+int(body[2]) <= len(body) {
					h.alpn = alpnChars(body[3 : 3+int(body[2])])
				}
				continue
			case 0x002b: // supported_versions: length(1) versions
				if len(body) >= 1 && 1+int(body[0]) <= len(body) {
					for k := 1; k+1 < 1+int(body[0]); k += 2 {
						if v := binary.BigEndian.Uint16(body[k:]); !grease(v) {
							h.supported = max(h.supported, v)
						}
					}
				}
			case 0x000d: // signature_algorithms: length(2) list, in the order given
				if len(body) >= 2 {
					sl := min(int(binary.BigEndian.Uint16(body)), len(body)-2)
					for k := 2; k+1 < 2+sl; k += 2 {
						if v := binary.BigEndian.Uint16(body[k:]); !grease(v) {
							if h.ns == len(h.sigs) {
								h.tooMany = true
								break
							}
							h.sigs[h.ns] = v
							h.ns++
						}
					}
				}
			}
			if h.nh == len(h.exts) {
				h.tooMany = true
				continue
			}
			h.exts[h.nh] = typ
			h.nh++
		}
	}
	h.whole = whole && !h.tooMany
	return true
}

// ja4 computes the JA4 fingerprint (FoxIO's TLS client fingerprint,
// github.com/FoxIO-LLC/ja4, technical_details/JA4.md) of the ClientHello
// handshake message at the start of hs into dst, for TLS over TCP ("t").
// It reports false, leaving dst alone, when the message is not whole in
// hs (see parseClientHello) or is malformed. GREASE values are ignored
// everywhere, as the specification says. Allocation-free.
func ja4(hs []byte, dst *[JA4Len]byte) bool {
	var h clientHello
	return parseClientHello(hs, &h) && h.ja4(dst)
}

// ja4 writes h's JA4 fingerprint into dst, when h is whole.
func (h *clientHello) ja4(dst *[JA4Len]byte) bool {
	if !h.whole {
		return false
	}
	version := h.version
	if h.supported != 0 {
		version = h.supported
	}
	sni := byte('i')
	if h.sni {
		sni = 'd'
	}
	d := dst[:0]
	d = append(d, 't')
	d = append(d, ja4Version(version)...)
	d = append(d, sni)
	d = appendTwoDigits(d, h.nc)
	d = appendTwoDigits(d, h.ne)
	d = append(d, h.alpn[:]...)
	d = append(d, '_')
	var buf [ja4MaxCiphers * 5]byte
	slices.Sort(h.ciphers[:h.nc])
	d = appendHash12(d, hexList(buf[:0], h.ciphers[:h.nc]))
	d = append(d, '_')
	slices.Sort(h.exts[:h.nh])
	var ebuf [(ja4MaxExts + ja4MaxSigAlgs) * 5]byte
	in := hexList(ebuf[:0], h.exts[:h.nh])
	if h.ns > 0 {
		in = hexList(append(in, '_'), h.sigs[:h.ns])
	}
	if h.nh == 0 {
		in = in[:0] // no extensions to hash: zeros, as for no ciphers
	}
	appendHash12(d, in)
	return true
}

// grease reports whether v is a GREASE value (RFC 8701): 0x?a?a with
// both bytes equal.
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0200:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// appendTwoDigits appends n, at most 99, as two decimal digits.
func appendTwoDigits(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

// alpnChars: the first and last characters of the first ALPN value when
// both are alphanumeric; otherwise the first hex digit of its first byte
// and the last hex digit of its last byte.
func alpnChars(v []byte) [2]byte {
	f, l := v[0], v[len(v)-1]
	if alnum(f) && alnum(l) {
		return [2]byte{f, l}
	}
	const digits = "0123456789abcdef"
	return [2]byte{digits[f>>4], digits[l&0xf]}
}

func alnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// hexList appends vs as comma-separated 4-digit lower-case hex.
func hexList(dst []byte, vs []uint16) []byte {
	for k, v := range vs {
		if k > 0 {
			dst = append(dst, ',')
		}
		const digits = "0123456789abcdef"
		dst = append(dst, digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf])
	}
	return dst
}

// appendHash12 appends the first 12 hex digits of in's SHA-256, or 12
// zeros when in is empty.
func appendHash12(dst, in []byte) []byte {
	if len(in) == 0 {
		return append(dst, "000000000000"...)
	}
	h := sha256.Sum256(in)
	return hex.AppendEncode(dst, h[:6])
}
