package features

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"testing"
	"time"
)

// hash12 is the first 12 hex digits of s's SHA-256.
func hash12(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

// buildHello builds a TLS ClientHello handshake message (type 1 and
// 3-byte length first) with the given cipher suites and extensions (type,
// body) in order.
func buildHello(version uint16, ciphers []uint16, exts [][2][]byte) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, version)
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 32)                  // session id
	body = append(body, make([]byte, 32)...)
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(ciphers)))
	for _, c := range ciphers {
		body = binary.BigEndian.AppendUint16(body, c)
	}
	body = append(body, 1, 0) // compression: null
	var ext []byte
	for _, e := range exts {
		ext = append(ext, e[0]...)
		ext = binary.BigEndian.AppendUint16(ext, uint16(len(e[1])))
		ext = append(ext, e[1]...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func u16s(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func extType(t uint16) []byte { return u16s(t) }

// chromeHello is the ClientHello of a published JA4 example (a Chrome 143
// on Android, as browserleaks.com reports it: ja4_ro gives the cipher
// suites, extensions and signature algorithms in wire order, ja4 the
// expected fingerprint), with GREASE values added where Chrome puts them.
func chromeHello() []byte {
	ciphers := []uint16{0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	name := "tls.browserleaks.com"
	entry := append([]byte{0}, append(u16s(uint16(len(name))), name...)...)
	sni := append(u16s(uint16(len(entry))), entry...)
	alpn := append(u16s(12), append([]byte{2}, append([]byte("h2"), append([]byte{8}, "http/1.1"...)...)...)...)
	versions := append([]byte{6}, u16s(0x5a5a, 0x0304, 0x0303)...)
	sigs := u16s(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
	sigs = append(u16s(uint16(len(sigs))), sigs...)
	exts := [][2][]byte{
		{extType(0x0a0a), nil},
		{extType(0x002d), {1, 1}}, {extType(0x0033), {0, 0}}, {extType(0x0010), alpn}, {extType(0xfe0d), {0}},
		{extType(0x0017), nil}, {extType(0x44cd), {0, 3, 2, 'h', '2'}}, {extType(0x0000), sni}, {extType(0x000b), {1, 0}},
		{extType(0x000a), u16s(6, 0x11ec, 0x001d, 0x0017)}, {extType(0x002b), versions}, {extType(0xff01), {0}},
		{extType(0x0023), nil}, {extType(0x0012), nil}, {extType(0x0005), {1, 0, 0, 0, 0}}, {extType(0x000d), sigs},
		{extType(0x001b), {2, 0, 2}},
		{extType(0x2a2a), {0}},
	}
	return buildHello(0x0303, ciphers, exts)
}

func TestJA4(t *testing.T) {
	var fp [JA4Len]byte
	if !ja4(chromeHello(), &fp) {
		t.Fatal("no fingerprint for a whole ClientHello")
	}
	if got, want := string(fp[:]), "t13d1516h2_8daaf6152771_d8a2da3f94cd"; got != want {
		t.Errorf("JA4 %s, want %s (the published fingerprint of this hello)", got, want)
	}

	// A TLS 1.2 client without SNI, ALPN or signature algorithms; one with
	// a non-alphanumeric ALPN; one with no extensions at all.
	plain := buildHello(0x0303, []uint16{0xc02f, 0x009c}, [][2][]byte{{extType(0x000b), {1, 0}}})
	odd := buildHello(0x0303, []uint16{0x002f}, [][2][]byte{{extType(0x0010), append(u16s(4), 3, '*', 'x', 0xfe)}})
	bare := buildHello(0x0301, nil, nil)
	for _, tc := range []struct {
		name string
		hs   []byte
		want string
	}{
		{"TLS 1.2, no SNI or ALPN", plain, "t12i0201" + "00_" + hash12("009c,c02f") + "_" + hash12("000b")},
		{"ALPN with non-alphanumeric ends", odd, "t12i0101" + "2e_" + hash12("002f") + "_000000000000"},
		{"no ciphers, no extensions", bare, "t10i000000_000000000000_000000000000"},
	} {
		var fp [JA4Len]byte
		if !ja4(tc.hs, &fp) {
			t.Errorf("%s: no fingerprint", tc.name)
		} else if string(fp[:]) != tc.want {
			t.Errorf("%s: JA4 %s, want %s", tc.name, fp[:], tc.want)
		}
	}

	// A cut ClientHello still gives the hints its version and server
	// name once they are in the packet, but no fingerprint.
	var ch clientHello
	h0 := chromeHello()
	cut := h0[:len(h0)-10]
	if !parseClientHello(cut, &ch) || ch.whole || ch.version != 0x0303 {
		t.Errorf("cut hello: parsed %+v", ch)
	}
	if !parseClientHello(chromeHello(), &ch) || !ch.whole || ch.supported != 0x0304 || ch.sniLen != len("tls.browserleaks.com") {
		t.Errorf("whole hello: whole %v, supported %#x, server name length %d", ch.whole, ch.supported, ch.sniLen)
	}

	// Not whole: every cut of the Chrome hello gets none, and dst is left alone.
	h := chromeHello()
	for cut := range len(h) {
		fp := [JA4Len]byte{'x'}
		if ja4(h[:cut], &fp) || fp[0] != 'x' {
			t.Fatalf("a ClientHello cut at %d of %d got a fingerprint %q", cut, len(h), fp[:])
		}
	}
	if n := testing.AllocsPerRun(100, func() { ja4(h, &fp) }); n != 0 {
		t.Errorf("ja4 allocates %v times", n)
	}
}

// TestJA4InRecord: the extractor hands the fingerprint of a flow's
// ClientHello to its record (and tls_version ignores the GREASE value
// that Chrome lists first among its supported versions).
func TestJA4InRecord(t *testing.T) {
	hs := chromeHello()
	rec := append([]byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
	ms := time.Millisecond
	steps := []step{
		{0, tcp(cli, srv, 40000, 443, "S", 0)},
		{1 * ms, tcp(srv, cli, 443, 40000, "SA", 0)},
		{2 * ms, tcp(cli, srv, 40000, 443, "A", 0)},
		{3 * ms, frame{src: cli, dst: srv, sport: 40000, dport: 443, proto: "tcp", flags: "PA", data: rec}},
		{4 * ms, tcp(srv, cli, 443, 40000, "PA", 1200)},
		{5 * ms, tcp(cli, srv, 40000, 443, "R", 0)},
	}
	recs, _ := run(t, Config{}, steps, true)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	if got, want := recs[0].JA4String(), "t13d1516h2_8daaf6152771_d8a2da3f94cd"; got != want {
		t.Errorf("record JA4 %q, want %q", got, want)
	}
	if v := value(t, &recs[0], "tls_version"); v != 0x0304 {
		t.Errorf("tls_version %v, want 772 (TLS 1.3; GREASE 0x5a5a ignored)", v)
	}
	// A flow without TLS has none.
	plain, _ := run(t, Config{}, handshakeAndClose(0, 40001), true)
	if len(plain) != 1 || plain[0].JA4String() != "" {
		t.Errorf("plain HTTP flow: JA4 %q, want none", plain[0].JA4String())
	}
}

// FuzzJA4: any bytes give either no fingerprint or a well-formed one, and
// never a panic.
func FuzzJA4(f *testing.F) {
	h := chromeHello()
	f.Add(h)
	f.Add(h[:len(h)/2])
	f.Add(buildHello(0x0303, []uint16{0x002f}, [][2][]byte{{extType(0x0010), append(u16s(4), 3, '*', 'x', 0xfe)}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, hs []byte) {
		var fp [JA4Len]byte
		if !ja4(hs, &fp) {
			return
		}
		s := string(fp[:])
		if !ja4Shape.MatchString(s) {
			t.Fatalf("malformed fingerprint %q", s)
		}
	})
}

var ja4Shape = regexp.MustCompile(`^t(13|12|11|10|s3|s2|d1|d2|d3|00)[di][0-9]{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)
