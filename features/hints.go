package features

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
)

// appState is what the application-hint parsers keep per flow: counters
// and maxima read from the payload the capture holds (a truncated capture
// gives what its snap length allows). It holds no payload bytes except,
// when Config.Usernames is set, the first user name of a login (user, at
// most maxUser bytes, for Record.User); never a password.
type appState struct {
	dnsQ, dnsR, dnsNX, dnsRare uint16 // queries, responses, NXDOMAIN responses, TXT/NULL/CNAME/ANY queries
	dnsNameMax, dnsLabelsMax   uint8
	dnsLongestLabel            uint8
	dnsEntropy                 uint16 // max sub-domain entropy, bits/char ×1000
	dnsDigit, dnsHex           uint8  // max sub-domain digit / hex-letter share ×255
	dnsAnsMax                  uint16 // largest response payload, bytes
	dnsNameHash                uint64 // hash of the last query name (host context)
	dnsDomainHash              uint64 // hash of its registered domain (its last two labels)

	httpReq, httpResp, httpErr uint16
	httpPost, httpOther        uint16 // POST and non-GET/HEAD/POST requests
	httpURIMax, httpQueryMax   uint16
	httpSQLi, httpTrav         uint16 // tokens summed over requests
	httpUALen                  uint16 // user agent length of the first request that had one
	httpTool                   bool
	authTry, authFail          uint16
	cleartext                  bool
	sshBanner                  uint8 // bit 0: client banner, bit 1: server banner
	sshAfter                   uint16
	sshLastReply               uint16 // payload length of the server's last packet after the banners
	sshClientSince             bool   // a client packet came after that server packet
	sshRepeats                 uint16 // server replies repeating the previous reply's length
	fwdPayload                 bool   // the initiator has sent payload
	unparsed                   bool   // its first payload started no protocol the hints know
	tlsHello                   bool
	tlsVersion                 uint16
	tlsSNILen                  uint8
	users                      bool // Config.Usernames: keep the first user name
	userLen                    uint8
	user                       [maxUser]byte
	ja4ok                      bool         // ja4 holds the ClientHello's fingerprint
	ja4                        [JA4Len]byte // not a feature: for alerts (Record.JA4)
	seen                       bool         // addApp was called: the other fields may be set
}

// appStore keeps the hint state of the flows that carry payload, in
// fixed chunks indexed by flow.app (1-based; 0: none). Most flows of a
// flood or a scan never carry payload, so the state (80 bytes) is not in
// every flow: the flow table stays under 300 bytes per flow for them.
// At most one entry per flow in the table, so it is bounded by MaxFlows;
// steady state allocates nothing (freed entries are reused).
type appStore struct {
	chunks []*[appChunk]appState
	free   []uint32 // released indexes (0-based)
	n      uint32   // indexes handed out
	users  bool     // Config.Usernames, given to every state handed out
}

const appChunk = 1024

// of returns f's hint state, or nil when it has none.
func (s *appStore) of(f *flow) *appState {
	if f.app == 0 {
		return nil
	}
	i := f.app - 1
	return &s.chunks[i/appChunk][i%appChunk]
}

// ensure returns f's hint state, giving it a zeroed one if it has none.
func (s *appStore) ensure(f *flow) *appState {
	if f.app == 0 {
		var i uint32
		if k := len(s.free); k > 0 {
			i, s.free = s.free[k-1], s.free[:k-1]
		} else {
			if int(s.n) == len(s.chunks)*appChunk {
				s.chunks = append(s.chunks, new([appChunk]appState))
			}
			i = s.n
			s.n++
		}
		f.app = i + 1
		*s.of(f) = appState{users: s.users}
	}
	return s.of(f)
}

// release returns f's hint state, if any, to the store.
func (s *appStore) release(f *flow) {
	if f.app != 0 {
		s.free = append(s.free, f.app-1)
		f.app = 0
	}
}

const maxHintPkts = 64 // payload packets per flow parsed for HTTP/DNS/TLS; auth replies are read throughout

func sat(x *uint16) {
	if *x != math.MaxUint16 {
		*x++
	}
}

// addApp reads the application payload pl (as captured) of packet p of
// the flow. fwd is the initiator (client) side; n counts the flow's
// packets so far.
func (a *appState) addApp(p *packet, pl []byte, fwd bool, n uint32) {
	a.seen = true
	if fwd && !a.fwdPayload {
		a.fwdPayload = true
		a.unparsed = p.proto == 6 && !knownRequest(p, pl)
	}
	if p.proto == 17 && (p.sport == 53 || p.dport == 53) && p.dns.ok {
		a.addDNS(p, pl)
		return
	}
	if p.proto != 6 {
		return
	}
	if p.sport == 53 || p.dport == 53 { // DNS over TCP: 2-byte length prefix
		if len(pl) > 2 {
			var di dnsInfo
			if parseDNS(pl[2:], &di) {
				q := *p
				q.dns = di
				a.addDNS(&q, pl[2:])
			}
		}
		return
	}
	port := p.dport
	if !fwd {
		port = p.sport
	}
	switch {
	case port == 21 || port == 110 || port == 143:
		a.addAuth(pl, fwd, port)
		return
	case port == 23:
		if fwd {
			a.cleartext = true
		}
		return
	}
	if a.sshBanner == 3 {
		sat(&a.sshAfter)
		a.addSSHEncrypted(len(pl), fwd)
		return
	}
	if n > maxHintPkts { // the payload is not even looked at
		return
	}
	if pl[0] == 'S' && bytes.HasPrefix(pl, []byte("SSH-")) {
		if fwd {
			a.sshBanner |= 1
		} else {
			a.sshBanner |= 2
		}
		return
	}
	if fwd {
		if len(pl) > 5 && pl[0] == 0x16 && pl[1] == 3 && pl[5] == 1 {
			a.addTLS(pl)
			return
		}
		switch pl[0] { // first letters of httpMethods
		case 'G', 'P', 'H', 'D', 'O', 'C', 'T':
			a.addHTTPRequest(pl)
		}
	} else if pl[0] == 'H' && bytes.HasPrefix(pl, []byte("HTTP/1.")) && len(pl) >= 12 {
		sat(&a.httpResp)
		if c := pl[9]; c == '4' || c == '5' {
			sat(&a.httpErr)
		}
	}
}

// sshReplyWindow: server packets after the banners that are compared
// for repeated lengths. Password guessing happens right after the key
// exchange; the echoes of an interactive session come later.
const sshReplyWindow = 48

// addSSHEncrypted accounts one payload packet of an SSH flow after both
// banners, when only its length is visible. A failed authentication gets
// a USERAUTH_FAILURE whose encrypted length repeats for every attempt, so
// a server reply as long as the previous one, with client packets in
// between, counts as a repeated failure (the idea of Zeek's SSH
// authentication heuristic, which also judges by sizes). A key-based
// login answers each client step with a reply of a different length.
func (a *appState) addSSHEncrypted(n int, fwd bool) {
	if fwd {
		a.sshClientSince = true
		return
	}
	if a.sshAfter > sshReplyWindow {
		return
	}
	n = min(n, math.MaxUint16)
	if a.sshClientSince && uint16(n) == a.sshLastReply {
		sat(&a.sshRepeats)
	}
	a.sshLastReply, a.sshClientSince = uint16(n), false
}

// knownRequest reports whether pl, the initiator's first TCP payload,
// starts a protocol the hints recognise: DNS over TCP, an HTTP/1.x
// request, a TLS handshake, an SSH identification, Telnet option
// negotiation, or a line of text starting with a letter or digit (the
// commands of FTP, SMTP, POP3, IMAP and most line protocols). A service
// probe that sends binary or blank lines to a text service is not one.
func knownRequest(p *packet, pl []byte) bool {
	if p.sport == 53 || p.dport == 53 {
		return true
	}
	switch c := pl[0]; {
	case c == 0x16 && len(pl) > 1 && pl[1] == 3: // TLS handshake record
		return true
	case c == 0xff: // Telnet IAC
		return true
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
	default:
		return false
	}
	// A text line: printable up to its end (or the first 64 bytes).
	for _, c := range pl[:min(len(pl), 64)] {
		switch {
		case c == '\r' || c == '\n':
			return true
		case c < 0x20 && c != '\t' || c >= 0x7f:
			return false
		}
	}
	return true
}

// addDNS accounts a DNS message whose header parsed (p.dns) and analyses
// the first question's name.
func (a *appState) addDNS(p *packet, msg []byte) {
	d := &p.dns
	if d.response {
		sat(&a.dnsR)
		if d.rcode == 3 {
			sat(&a.dnsNX)
		}
		if n := len(msg); n > int(a.dnsAnsMax) {
			a.dnsAnsMax = uint16(min(n, math.MaxUint16))
		}
		return
	}
	sat(&a.dnsQ)
	switch d.qtype {
	case 16, 10, 5, 255: // TXT, NULL, CNAME, ANY
		sat(&a.dnsRare)
	}
	var ns nameStats
	if !dnsNameStats(msg, &ns) {
		return
	}
	a.dnsNameHash, a.dnsDomainHash = ns.hash, ns.domain
	a.dnsNameMax = max(a.dnsNameMax, ns.length)
	a.dnsLabelsMax = max(a.dnsLabelsMax, ns.labels)
	a.dnsLongestLabel = max(a.dnsLongestLabel, ns.longest)
	a.dnsEntropy = max(a.dnsEntropy, uint16(ns.entropy*1000))
	a.dnsDigit = max(a.dnsDigit, uint8(ns.digit*255))
	a.dnsHex = max(a.dnsHex, uint8(ns.hex*255))
}

// nameStats describes the first question name of a DNS message.
type nameStats struct {
	length, labels, longest uint8
	entropy                 float64 // Shannon entropy (bits/char) of the labels below the registered domain
	digit, hex              float64 // share of digits / of a-f letters among those characters
	hash                    uint64  // FNV-1a of the lower-cased name
	domain                  uint64  // FNV-1a of its last two labels (the registered domain, approximately)
}

// dnsNameStats reads the first question name of msg (a DNS message with
// at least a 12-byte header). The registered domain is approximated as
// the last two labels. It reports false when there is no complete name.
// Allocation-free.
func dnsNameStats(msg []byte, ns *nameStats) bool {
	if len(msg) < 13 || binary.BigEndian.Uint16(msg[4:]) == 0 {
		return false
	}
	// First pass: label offsets (at most 128 labels in a 255-byte name).
	var offs [128]uint16
	nl := 0
	i, total := 12, 0
	for {
		if i >= len(msg) {
			return false
		}
		l := int(msg[i])
		if l == 0 {
			break
		}
		if l&0xc0 != 0 || i+1+l > len(msg) || nl == len(offs) {
			return false
		}
		offs[nl] = uint16(i)
		nl++
		total += l + 1
		i += l + 1
	}
	if nl == 0 {
		return false
	}
	*ns = nameStats{labels: uint8(min(nl, 255)), length: uint8(min(total-1, 255))}
	h := uint64(14695981039346656037)
	dom := h
	var hist [256]uint8 // counts ≤ 255: a name is at most 255 bytes
	var sum float64     // Σ c·log2 c over the counts, kept up to date
	sub, digits, hexes := 0, 0, 0
	for k := 0; k < nl; k++ {
		o := int(offs[k])
		l := int(msg[o])
		ns.longest = max(ns.longest, uint8(l))
		for _, c := range msg[o+1 : o+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = (h ^ uint64(c)) * 1099511628211
			if k >= nl-2 {
				dom = (dom ^ uint64(c)) * 1099511628211
			}
			if k < nl-2 {
				sum += clog2c[hist[c]+1] - clog2c[hist[c]]
				hist[c]++
				sub++
				switch {
				case '0' <= c && c <= '9':
					digits++
				case 'a' <= c && c <= 'f':
					hexes++
				}
			}
		}
		h = (h ^ '.') * 1099511628211
		if k >= nl-2 {
			dom = (dom ^ '.') * 1099511628211
		}
	}
	ns.hash, ns.domain = h, dom
	if sub > 0 {
		// H = log2 n - Σ c·log2 c / n over the character counts c, with
		// c·log2 c from a table (a name has at most 255 characters).
		fs := float64(sub)
		ns.entropy = max(0, math.Log2(fs)-sum/fs)
		ns.digit, ns.hex = float64(digits)/fs, float64(hexes)/fs
	}
	return true
}

// clog2c[c] is c·log2(c) (0 for 0 and 1).
var clog2c = func() (t [256]float64) {
	for c := 2; c < len(t); c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
}()

var httpMethods = [...]string{"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

// addHTTPRequest parses an HTTP/1.x request line and headers at the start
// of pl; anything else is ignored.
func (a *appState) addHTTPRequest(pl []byte) {
	m := -1
	for i, s := range httpMethods {
		if len(pl) >= len(s) && string(pl[:len(s)]) == s {
			m = i
			break
		}
	}
	if m < 0 {
		return
	}
	sat(&a.httpReq)
	switch m {
	case 0, 2:
	case 1:
		sat(&a.httpPost)
	default:
		sat(&a.httpOther)
	}
	rest := pl[len(httpMethods[m]):]
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = bytes.IndexAny(rest, "\r\n")
		if end < 0 {
			end = len(rest)
		}
	}
	uri := rest[:end]
	a.httpURIMax = max(a.httpURIMax, uint16(min(len(uri), math.MaxUint16)))
	if q := bytes.IndexByte(uri, '?'); q >= 0 {
		a.httpQueryMax = max(a.httpQueryMax, uint16(min(len(uri)-q-1, math.MaxUint16)))
	}
	sq, tr := attackTokens(uri)
	// Headers: user agent, basic auth; then the start of the body.
	hdr := rest[end:]
	body := []byte(nil)
	if k := bytes.Index(hdr, []byte("\r\n\r\n")); k >= 0 {
		body = hdr[k+4:]
		hdr = hdr[:k]
	}
	for len(hdr) > 0 {
		nl := bytes.IndexByte(hdr, '\n')
		line := hdr
		if nl >= 0 {
			line, hdr = hdr[:nl], hdr[nl+1:]
		} else {
			hdr = nil
		}
		line = bytes.TrimRight(line, "\r")
		switch {
		case hasPrefixFold(line, "user-agent:"):
			ua := bytes.TrimSpace(line[len("user-agent:"):])
			if a.httpUALen == 0 {
				a.httpUALen = uint16(min(len(ua), math.MaxUint16))
			}
			if toolUA(ua) {
				a.httpTool = true
			}
		case hasPrefixFold(line, "authorization: basic"):
			a.cleartext = true
			if a.users && a.userLen == 0 {
				a.basicUser(bytes.TrimSpace(line[len("authorization: basic"):]))
			}
		}
	}
	if len(body) > 0 {
		s, t := attackTokens(body)
		sq += s
		tr += t
	}
	a.httpSQLi = uint16(min(int(a.httpSQLi)+sq, math.MaxUint16))
	a.httpTrav = uint16(min(int(a.httpTrav)+tr, math.MaxUint16))
}

func hasPrefixFold(b []byte, lower string) bool {
	if len(b) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// toolMarkers are user-agent substrings of attack and scanning tools.
// curl and wget are deliberately absent: benign clients use them.
var toolMarkers = [...]string{"sqlmap", "nikto", "nmap", "masscan", "zgrab", "hydra", "dirbuster", "gobuster", "wfuzz", "python-requests", "go-http-client", "nuclei", "acunetix", "w3af"}

func toolUA(ua []byte) bool {
	var buf [256]byte
	n := copy(buf[:], ua)
	lo := buf[:n]
	for i, c := range lo {
		if 'A' <= c && c <= 'Z' {
			lo[i] = c + 'a' - 'A'
		}
	}
	for _, m := range toolMarkers {
		if bytes.Contains(lo, []byte(m)) {
			return true
		}
	}
	return false
}

// sqliTokens are searched in the URL-decoded, lower-cased text; each
// occurrence counts. Tautologies (or 1=1, and 'a'='a', ...) are counted
// separately by tautologies.
var sqliTokens = [...]string{"'", "\"", "--", "/*", "#", ";", "union", "select", "sleep(", "benchmark(", "waitfor", "concat(", "char(", "information_schema", "sqlite_master", "@@version", "extractvalue(", "0x"}

// attackTokens URL-decodes (%XX and '+' as space) and lower-cases up to
// 1 KiB of s into a stack buffer and counts SQL-injection tokens and
// directory-traversal tokens ("../", "..\"). Allocation-free.
func attackTokens(s []byte) (sqli, trav int) {
	var buf [1024]byte
	n := 0
	for i := 0; i < len(s) && n < len(buf); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	t := buf[:n]
	for _, tok := range sqliTokens {
		sqli += bytes.Count(t, []byte(tok))
	}
	sqli += tautologies(t)
	trav = bytes.Count(t, []byte("../")) + bytes.Count(t, []byte(`..\`))
	return sqli, trav
}

// tautologies counts "or X=X" / "and X=X" (X the same word, digits or
// quoted string) in lower-case text t.
func tautologies(t []byte) int {
	n := 0
	for i := 0; i < len(t); i++ {
		var k int
		switch {
		case bytes.HasPrefix(t[i:], []byte("or ")):
			k = i + 3
		case bytes.HasPrefix(t[i:], []byte("and ")):
			k = i + 4
		default:
			continue
		}
		if i > 0 && isWord(t[i-1]) {
			continue
		}
		for k < len(t) && t[k] == ' ' {
			k++
		}
		l := k
		for l < len(t) && t[l] != '=' && t[l] != ' ' {
			l++
		}
		if l >= len(t) || l == k {
			continue
		}
		left := t[k:l]
		for l < len(t) && t[l] == ' ' {
			l++
		}
		if l >= len(t) || t[l] != '=' {
			continue
		}
		l++
		for l < len(t) && t[l] == ' ' {
			l++
		}
		if bytes.HasPrefix(t[l:], left) {
			n++
		}
	}
	return n
}

func isWord(c byte) bool { return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' }

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// addAuth counts login attempts and failures of FTP (21), POP3 (110) and
// IMAP (143): client PASS / LOGIN commands, server 530 / -ERR / NO replies.
func (a *appState) addAuth(pl []byte, fwd bool, port uint16) {
	if fwd {
		switch port {
		case 21, 110:
			if hasPrefixFold(pl, "pass ") {
				sat(&a.authTry)
				a.cleartext = true
			} else if hasPrefixFold(pl, "user ") {
				a.keepUser(pl[5:], false)
			}
		case 143:
			// "<tag> LOGIN user pass"
			if sp := bytes.IndexByte(pl, ' '); sp > 0 && hasPrefixFold(pl[sp+1:], "login ") {
				sat(&a.authTry)
				a.cleartext = true
				a.keepUser(pl[sp+1+len("login "):], true)
			}
		}
		return
	}
	switch port {
	case 21:
		// A reply packet may hold several lines; count each 530.
		for len(pl) >= 4 {
			if string(pl[:4]) == "530 " {
				sat(&a.authFail)
			}
			nl := bytes.IndexByte(pl, '\n')
			if nl < 0 {
				break
			}
			pl = pl[nl+1:]
		}
	case 110:
		if bytes.HasPrefix(pl, []byte("-ERR")) && a.authTry > a.authFail {
			sat(&a.authFail)
		}
	case 143:
		if sp := bytes.IndexByte(pl, ' '); sp > 0 && pl[0] != '*' && (hasPrefixFold(pl[sp+1:], "no ") || hasPrefixFold(pl[sp+1:], "bad ")) {
			sat(&a.authFail)
		}
	}
}

// maxUser bounds a kept user name, in bytes.
const maxUser = 64

// keepUser keeps the user name at the start of b (up to a space or line
// end; quoted with quoted set, IMAP style) when user names are wanted and
// none is kept yet. Nothing after the name is looked at.
func (a *appState) keepUser(b []byte, quoted bool) {
	if !a.users || a.userLen > 0 {
		return
	}
	var end byte = ' '
	if quoted && len(b) > 0 && b[0] == '"' {
		b, end = b[1:], '"'
	}
	n := 0
	for n < len(b) && n < maxUser && b[n] != end && b[n] != '\r' && b[n] != '\n' {
		n++
	}
	a.userLen = uint8(copy(a.user[:], b[:n]))
}

// basicUser keeps the user name of an HTTP Basic credential (base64 of
// "user:password"): it decodes 4 characters at a time and stops at the
// colon, so no more of the password than the rest of that group of 3
// bytes is decoded, into a buffer on the stack that is dropped.
func (a *appState) basicUser(b64 []byte) {
	var out [maxUser]byte
	n := 0
	for len(b64) >= 4 && n < maxUser {
		var q [3]byte
		k, err := base64.StdEncoding.Decode(q[:], b64[:4])
		if err != nil {
			return
		}
		for _, c := range q[:k] {
			if c == ':' {
				a.userLen = uint8(copy(a.user[:], out[:n]))
				return
			}
			if n < maxUser {
				out[n] = c
				n++
			}
		}
		b64 = b64[4:]
	}
}

// addTLS reads the version and server name length of the TLS ClientHello
// in the record pl, and its JA4 fingerprint when the whole ClientHello is
// in pl.
func (a *appState) addTLS(pl []byte) {
	a.tlsHello = true
	var h clientHello
	if !parseClientHello(pl[5:], &h) {
		return
	}
	a.tlsVersion = max(a.tlsVersion, h.version, h.supported)
	if h.sniLen >= 0 {
		a.tlsSNILen = uint8(min(h.sniLen, 255))
	}
	if !a.ja4ok {
		a.ja4ok = h.ja4(&a.ja4)
	}
}

// sshEarlyClosePkts: an SSH flow that closes with at most this many
// payload packets after the banner exchange ended before a session could
// run (a failed or abandoned login).
const sshEarlyClosePkts = 20

// The lengths of names, URIs and user agents are bounded (a DNS name holds
// at most 253 characters, a label 63) and are not marked Count: a scaler
// measures them as they are, not on a log scale. A log compressed a
// tunnel's 128-character TXT names to within 2.6 standard deviations of
// the lab baseline's 17-character ones, so a 7-fold departure from every
// name the baseline asked scored no more than the flows' usual spread.
var hintFeatures = []Feature{
	ft("dns_queries", "messages", "DNS queries sent by the initiator (UDP/TCP 53)", true),
	ft("dns_qname_len", "chars", "longest first-question name of the flow's queries, dotted form", false),
	ft("dns_labels", "labels", "most labels in a query name", false),
	ft("dns_longest_label", "chars", "longest single label in a query name", false),
	ft("dns_sub_entropy", "bits/char", "highest Shannon entropy of the characters below the registered domain (last two labels)", false),
	ft("dns_sub_digit_ratio", "ratio", "highest share of digits among the characters below the registered domain", false),
	ft("dns_sub_hex_ratio", "ratio", "highest share of a-f letters among the characters below the registered domain", false),
	ft("dns_rare_qtype_share", "ratio", "share of queries asking for TXT, NULL, CNAME or ANY", false),
	ft("dns_nxdomain_share", "ratio", "share of responses with rcode NXDOMAIN", false),
	ft("dns_answer_bytes", "bytes", "largest DNS response message (as captured)", true),
	ft("http_requests", "requests", "HTTP/1.x requests seen at the start of initiator packets", true),
	ft("http_post_share", "ratio", "share of requests that are POST", false),
	ft("http_other_method_share", "ratio", "share of requests with a method other than GET, HEAD, POST", false),
	ft("http_uri_len", "chars", "longest request URI", false),
	ft("http_query_len", "chars", "longest query string (after '?')", false),
	ft("http_sqli_tokens", "tokens", "SQL-injection tokens (quotes, comments, UNION, SELECT, SLEEP(, tautologies, ...) in the URL-decoded, lower-cased URIs and body starts, summed over requests", true),
	ft("http_traversal_tokens", "tokens", "directory traversal tokens (../, ..\\) after URL decoding, summed over requests", true),
	ft("http_ua_len", "chars", "length of the first User-Agent header (0 when none)", false),
	ft("http_tool_ua", "bool", "1 when a User-Agent names an attack or scanning tool (sqlmap, nikto, nmap, ...; not curl or wget)", false),
	ft("http_error_share", "ratio", "share of HTTP responses with status 4xx or 5xx", false),
	ft("auth_attempts", "attempts", "login attempts seen in clear (FTP/POP3 PASS, IMAP LOGIN)", true),
	ft("auth_failures", "replies", "failed logins seen (FTP 530, POP3 -ERR after PASS, IMAP NO/BAD)", true),
	ft("cleartext_credentials", "bool", "1 when the flow carried credentials in clear (FTP/POP3/IMAP login, Telnet, HTTP Basic)", false),
	ft("ssh_pkts_after_banner", "packets", "payload packets of an SSH flow after both banners (key exchange and everything after)", true),
	ft("ssh_early_close", "bool", "1 when an SSH flow closed (FIN/RST) with at most 20 payload packets after the banners: no session ran", false),
	ft("ssh_repeated_replies", "replies", "server packets among the first 48 after the SSH banners as long as the server's previous packet, with client packets in between: repeated authentication failures", true),
	ft("unparsed_request", "bool", "1 when the initiator's first TCP payload starts no protocol the hints know (HTTP request, TLS, SSH, DNS, Telnet, a text command line): binary or blank probes of a service", false),
	ft("client_silent_close", "bool", "1 when the responder sent payload, the initiator sent none and closed first (FIN or RST): a banner grab", false),
	ft("tls_client_hello", "bool", "1 when the initiator sent a TLS ClientHello", false),
	ft("tls_version", "version", "highest TLS version offered (0x0303 = 771 is TLS 1.2, 772 is 1.3; 0 when none)", false),
	ft("tls_sni_len", "chars", "length of the ClientHello server name (0 when none)", true),
}

func share(n, d uint16) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

var noHints [31]float64

func appendHints(dst []float64, f *flow, a *appState) []float64 {
	if a == nil || !a.seen { // most flows: no payload parsed, all zero
		return append(dst, noHints[:len(hintFeatures)]...)
	}
	early := a.sshBanner == 3 && a.sshAfter <= sshEarlyClosePkts && f.state&(stRST|stFinFwd|stFinBwd) != 0
	silent := f.state&stFwdClosedFirst != 0 && f.fwdBytes == f.fwdHdr && f.bwdBytes > f.bwdHdr
	return append(dst,
		float64(a.dnsQ), float64(a.dnsNameMax), float64(a.dnsLabelsMax), float64(a.dnsLongestLabel),
		float64(a.dnsEntropy)/1000, float64(a.dnsDigit)/255, float64(a.dnsHex)/255,
		share(a.dnsRare, a.dnsQ), share(a.dnsNX, a.dnsR), float64(a.dnsAnsMax),
		float64(a.httpReq), share(a.httpPost, a.httpReq), share(a.httpOther, a.httpReq),
		float64(a.httpURIMax), float64(a.httpQueryMax), float64(a.httpSQLi), float64(a.httpTrav),
		float64(a.httpUALen), b2f(a.httpTool), share(a.httpErr, a.httpResp),
		float64(a.authTry), float64(a.authFail), b2f(a.cleartext),
		float64(a.sshAfter), b2f(early),
		float64(a.sshRepeats), b2f(a.unparsed), b2f(silent),
		b2f(a.tlsHello), float64(a.tlsVersion), float64(a.tlsSNILen))
}
