package features

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func dnsMsg(t testing.TB, name string, qt layers.DNSType) []byte {
	d := &layers.DNS{ID: 1, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qt, Class: layers.DNSClassIN}}}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDNSNameStats(t *testing.T) {
	cases := []struct {
		name                  string
		length, labels, long  uint8
		entropy, digit, hexes float64
	}{
		{"www.lab.test", 12, 3, 4, 2, 0, 0},           // "www": one symbol... see below
		{"lab.test", 8, 2, 4, 0, 0, 0},                // nothing below the registered domain
		{"ab12.x.lab.test", 15, 4, 4, 2.25, 0.4, 0.4}, // "ab12x": 5 distinct of 5
		{"AAAA.lab.test", 13, 3, 4, 0, 0, 1},          // case folded: "aaaa", one symbol
	}
	for _, tc := range cases {
		var ns nameStats
		if !dnsNameStats(dnsMsg(t, tc.name, layers.DNSTypeA), &ns) {
			t.Fatalf("%s: not parsed", tc.name)
		}
		if ns.length != tc.length || ns.labels != tc.labels || ns.longest != tc.long {
			t.Errorf("%s: %+v", tc.name, ns)
		}
		want := tc.entropy
		switch tc.name {
		case "www.lab.test":
			want = 0 // a single repeated symbol
		case "ab12.x.lab.test":
			want = 2.321928 // log2(5)
		}
		if d := ns.entropy - want; d > 1e-5 || d < -1e-5 || abs(ns.digit-tc.digit) > 1e-9 || abs(ns.hex-tc.hexes) > 1e-9 {
			t.Errorf("%s: entropy %v digit %v hex %v, want %v %v %v", tc.name, ns.entropy, ns.digit, ns.hex, want, tc.digit, tc.hexes)
		}
	}
	var ns nameStats
	if dnsNameStats(dnsMsg(t, "www.lab.test", layers.DNSTypeA)[:16], &ns) {
		t.Error("truncated name parsed")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestAttackTokens(t *testing.T) {
	cases := []struct {
		in         string
		sqli, trav int
	}{
		{"/index.html", 0, 0},
		{"/app?id=1", 0, 0},
		{"/app?id=1%27%20OR%201%3D1--", 3, 0},              // ' , --, or 1=1
		{"/app?id=1+UNION+ALL+SELECT+NULL,NULL--+-", 3, 0}, // union, select, --
		{"/app?id=1) AND SLEEP(5)", 1, 0},
		{"/app?id=1 and 4821=4821", 1, 0},
		{"/x?f=..%2F..%2Fetc%2Fpasswd", 0, 2},
		{"/brand?x=hand 1=1", 0, 0}, // no or/and before it
	}
	for _, tc := range cases {
		s, tr := attackTokens([]byte(tc.in))
		if s != tc.sqli || tr != tc.trav {
			t.Errorf("%q: sqli %d trav %d, want %d %d", tc.in, s, tr, tc.sqli, tc.trav)
		}
	}
}

func TestHTTPRequest(t *testing.T) {
	var a appState
	a.addHTTPRequest([]byte("GET /app?id=1%27 HTTP/1.1\r\nHost: x\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n"))
	a.addHTTPRequest([]byte("POST /login HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\nAuthorization: Basic dTpw\r\n\r\nuser=a' or 'a'='a'"))
	a.addHTTPRequest([]byte("NOTHTTP"))
	if a.httpReq != 2 || a.httpPost != 1 || !a.httpTool || !a.cleartext || a.httpUALen != 40 || a.httpQueryMax != 7 || a.httpSQLi != 1+5+1 {
		t.Errorf("%+v", a)
	}
	var c appState
	c.addHTTPRequest([]byte("GET / HTTP/1.1\r\nUser-Agent: curl/7.88.1\r\n\r\n"))
	if c.httpTool {
		t.Error("curl flagged as a tool")
	}
}

// TestAuthCounting: FTP USER/PASS with 530 replies, POP3 -ERR, IMAP NO.
func TestAuthCounting(t *testing.T) {
	var a appState
	for range 3 {
		a.addAuth([]byte("USER bob\r\n"), true, 21)
		a.addAuth([]byte("331 Please specify the password.\r\n"), false, 21)
		a.addAuth([]byte("PASS secret\r\n"), true, 21)
		a.addAuth([]byte("530 Login incorrect.\r\n"), false, 21)
	}
	a.addAuth([]byte("PASS right\r\n"), true, 21)
	a.addAuth([]byte("230 Login successful.\r\n"), false, 21)
	if a.authTry != 4 || a.authFail != 3 || !a.cleartext {
		t.Errorf("ftp: %+v", a)
	}
	var p appState
	p.addAuth([]byte("-ERR no\r\n"), false, 110) // before any PASS: not a login failure
	p.addAuth([]byte("PASS x\r\n"), true, 110)
	p.addAuth([]byte("-ERR [AUTH] failed\r\n"), false, 110)
	if p.authTry != 1 || p.authFail != 1 {
		t.Errorf("pop3: %+v", p)
	}
	var m appState
	m.addAuth([]byte("a1 LOGIN bob x\r\n"), true, 143)
	m.addAuth([]byte("* OK hi\r\n"), false, 143)
	m.addAuth([]byte("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"), false, 143)
	if m.authTry != 1 || m.authFail != 1 {
		t.Errorf("imap: %+v", m)
	}
}

// TestSSHEarlyClose: banners then a few packets and a FIN is an early
// close; a long session is not.
func TestSSHEarlyClose(t *testing.T) {
	s := FlowSchema()
	i := s.Index("ssh_early_close")
	for _, tc := range []struct {
		after int
		want  float64
	}{{8, 1}, {40, 0}} {
		var f flow
		var a appState
		f.state = stFinFwd | stFinBwd
		p := &packet{proto: 6, sport: 40000, dport: 22}
		a.addApp(p, []byte("SSH-2.0-libssh\r\n"), true, 1)
		q := &packet{proto: 6, sport: 22, dport: 40000}
		a.addApp(q, []byte("SSH-2.0-OpenSSH_9.2\r\n"), false, 2)
		for k := range tc.after {
			a.addApp(p, []byte{0, 0, 0, 12, byte(k)}, k%2 == 0, uint32(3+k))
		}
		v := appendHints(nil, &f, &a)
		if got := v[i-s.Index("dns_queries")]; got != tc.want {
			t.Errorf("%d packets after banners: early close %v, want %v", tc.after, got, tc.want)
		}
	}
}

// TestAppStore: hint state is handed out per flow, zeroed when handed out
// again, and reused, so the store holds no more entries than flows that
// carried payload at the same time.
func TestAppStore(t *testing.T) {
	var s appStore
	flows := make([]flow, 3000)
	for round := 0; round < 3; round++ {
		for i := range flows {
			a := s.ensure(&flows[i])
			if a.seen || a.dnsQ != 0 {
				t.Fatalf("round %d flow %d: handed out a dirty entry", round, i)
			}
			a.seen, a.dnsQ = true, uint16(i)
			if s.ensure(&flows[i]) != a || s.of(&flows[i]) != a {
				t.Fatal("ensure or of returned another entry for the same flow")
			}
		}
		for i := range flows {
			if got := s.of(&flows[i]).dnsQ; got != uint16(i) {
				t.Fatalf("flow %d reads entry of another flow (%d)", i, got)
			}
		}
		for i := range flows {
			s.release(&flows[i])
			if s.of(&flows[i]) != nil {
				t.Fatal("released flow still has hint state")
			}
		}
	}
	if s.n != 3000 || len(s.chunks) != 3 {
		t.Fatalf("store grew to %d entries in %d chunks for 3000 concurrent flows", s.n, len(s.chunks))
	}
	if n := testing.AllocsPerRun(100, func() {
		var f flow
		s.ensure(&f)
		s.release(&f)
	}); n != 0 {
		t.Fatalf("steady-state ensure/release allocates %v times", n)
	}
}

// TestSSHRepeatedReplies replays the payload lengths after the banners of
// real SSH flows (lab captures, read with tshark): hydra's password
// guesses get same-length USERAUTH_FAILURE replies, a key-based login
// from the baseline gets none.
func TestSSHRepeatedReplies(t *testing.T) {
	// Payload lengths in capture order; negative: server to client.
	baseline := []int{1448, 112, -1088, 1208, -1448, -116, 16, 44, -44, 60, -52, 140, -100, 308, -28, 112, -272, -200, 128, -72, 36, -100, -44, -36, -88, 36, 60}
	hydra := []int{904, -1088, 48, -524, 16, 44, -44, 60, -52, 76, -52, 76, -52, 84, -52, 76, -52, 84, -52, 84, -76}
	hydraShort := []int{904, -1088, 48, -524, 16, 44, -44, 60, -52, 84, -52}
	backToBack := []int{60, -52, -52, -52} // one reply split in equal segments: no client packet between
	late := make([]int, 0, 80)             // an interactive session: echoes after the window
	for k := range 30 {
		late = append(late, 500, -700-k)
	}
	for range 10 {
		late = append(late, 36, -36)
	}
	for _, tc := range []struct {
		name string
		lens []int
		want uint16
	}{
		{"baseline key login", baseline, 0},
		{"hydra, six guesses", hydra, 5},
		{"hydra, two guesses", hydraShort, 1},
		{"segments of one reply", backToBack, 0},
		{"echoes after the window", late, 0},
	} {
		var a appState
		c := &packet{proto: 6, sport: 40000, dport: 22}
		s := &packet{proto: 6, sport: 22, dport: 40000}
		a.addApp(c, []byte("SSH-2.0-libssh_0.10.6\r\n"), true, 4)
		a.addApp(s, []byte("SSH-2.0-OpenSSH_9.2p1\r\n"), false, 5)
		for k, n := range tc.lens {
			p, fwd := c, n > 0
			if !fwd {
				p, n = s, -n
			}
			a.addApp(p, make([]byte, n), fwd, uint32(6+k))
		}
		if a.sshRepeats != tc.want {
			t.Errorf("%s: %d repeated replies, want %d", tc.name, a.sshRepeats, tc.want)
		}
	}
}

// TestKnownRequest: the first client payloads of nmap's service probes
// (lab mixed.pcap) are not requests of any protocol the hints know; the
// requests of the baseline's clients are.
func TestKnownRequest(t *testing.T) {
	socks4 := append([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0}, "google.com\x00GET / HTTP/1.0\r\n\r\n"...)
	for _, tc := range []struct {
		name  string
		dport uint16
		pl    string
		want  bool
	}{
		{"HTTP GET", 8080, "GET /index.html HTTP/1.1\r\nHost: x\r\n", true},
		{"HTTP without the line end in the capture", 80, "POST /login HTTP/1.1", true},
		{"TLS ClientHello", 443, "\x16\x03\x01\x02\x00\x01", true},
		{"SSH identification", 22, "SSH-2.0-OpenSSH_9.2p1\r\n", true},
		{"FTP command", 21, "USER anonymous\r\n", true},
		{"nmap's FTP HELP", 21, "HELP\r\n", true},
		{"IMAP tagged command", 143, "a001 LOGIN bob x\r\n", true},
		{"Telnet negotiation", 23, "\xff\xfd\x18", true},
		{"binary DNS over TCP", 53, "\x00\x1d\x12\x34\x01\x00", true},
		{"nmap GenericLines (blank lines)", 8080, "\r\n\r\n", false},
		{"nmap SOCKS4 probe", 8080, string(socks4), false},
		{"binary", 8080, "\x00\x00\x00\x0c\x01", false},
		{"text then control bytes", 8080, "abc\x01def\r\n", false},
		{"text past 64 bytes without a line end", 80, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+*/", true},
	} {
		p := &packet{proto: 6, sport: 40000, dport: tc.dport}
		if got := knownRequest(p, []byte(tc.pl)); got != tc.want {
			t.Errorf("%s: known %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBannerGrab: nmap's NULL probe (connect, read the banner, close
// without a word) sets client_silent_close; a download the server closes,
// and a request the client closes after its answer, do not.
func TestBannerGrab(t *testing.T) {
	ms := time.Millisecond
	hs := func(sp uint16) []step {
		return []step{
			{0, tcp(cli, srv, sp, 22, "S", 0)},
			{1 * ms, tcp(srv, cli, 22, sp, "SA", 0)},
			{2 * ms, tcp(cli, srv, sp, 22, "A", 0)},
		}
	}
	grab := append(hs(40001),
		step{3 * ms, tcp(srv, cli, 22, 40001, "PA", 41)},
		step{4 * ms, tcp(cli, srv, 40001, 22, "FA", 0)},
		step{5 * ms, tcp(srv, cli, 22, 40001, "FA", 0)})
	download := append(hs(40002),
		step{3 * ms, tcp(srv, cli, 22, 40002, "PA", 1000)},
		step{4 * ms, tcp(srv, cli, 22, 40002, "FA", 0)},
		step{5 * ms, tcp(cli, srv, 40002, 22, "FA", 0)})
	reset := append(hs(40003),
		step{3 * ms, tcp(srv, cli, 22, 40003, "PA", 41)},
		step{4 * ms, tcp(cli, srv, 40003, 22, "R", 0)})
	asked := append(hs(40004),
		step{3 * ms, tcp(cli, srv, 40004, 22, "PA", 20)},
		step{4 * ms, tcp(srv, cli, 22, 40004, "PA", 41)},
		step{5 * ms, tcp(cli, srv, 40004, 22, "FA", 0)},
		step{6 * ms, tcp(srv, cli, 22, 40004, "FA", 0)})
	for _, tc := range []struct {
		name  string
		steps []step
		want  float64
	}{{"banner grab", grab, 1}, {"server closes a download", download, 0}, {"client resets after the banner", reset, 1}, {"client spoke first", asked, 0}} {
		recs, _ := run(t, Config{}, tc.steps, true)
		if len(recs) != 1 {
			t.Fatalf("%s: %d records, want 1", tc.name, len(recs))
		}
		if got := value(t, &recs[0], "client_silent_close"); got != tc.want {
			t.Errorf("%s: client_silent_close %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestUsernames: with Config.Usernames the first user name of a login is
// kept (FTP/POP3 USER, IMAP LOGIN, HTTP Basic), never a password; without
// it nothing is.
func TestUsernames(t *testing.T) {
	basic := func(cred string) string {
		return "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n\r\n"
	}
	for _, tc := range []struct {
		name  string
		port  uint16
		lines []string
		want  string
	}{
		{"FTP", 21, []string{"USER alice\r\n", "PASS hunter2\r\n", "USER bob\r\n"}, "alice"},
		{"POP3", 110, []string{"CAPA\r\n", "USER carol\r\n", "PASS hunter2\r\n"}, "carol"},
		{"IMAP", 143, []string{"a1 LOGIN dave hunter2\r\n"}, "dave"},
		{"IMAP quoted", 143, []string{`a1 LOGIN "erin smith" "hunter2"` + "\r\n"}, "erin smith"},
		{"HTTP Basic", 80, []string{basic("frank:hunter2")}, "frank"},
		{"HTTP Basic, name of 7 (the colon mid-group)", 80, []string{basic("gregory:hunter2")}, "gregory"},
		{"no login", 21, []string{"HELP\r\n"}, ""},
	} {
		for _, on := range []bool{true, false} {
			var a appState
			a.users = on
			p := &packet{proto: 6, sport: 40000, dport: tc.port}
			for k, l := range tc.lines {
				a.addApp(p, []byte(l), true, uint32(4+k))
			}
			want := tc.want
			if !on {
				want = ""
			}
			if got := string(a.user[:a.userLen]); got != want {
				t.Errorf("%s (usernames %v): user %q, want %q", tc.name, on, got, want)
			}
			if bytes.Contains(a.user[:], []byte("hunter2")) || bytes.Contains(a.user[:], []byte("hunt")) {
				t.Errorf("%s: the password reached the kept state: %q", tc.name, a.user[:])
			}
		}
	}
	// Through the extractor.
	ms := time.Millisecond
	login := []step{
		{0, tcp(cli, srv, 40000, 21, "S", 0)},
		{1 * ms, tcp(srv, cli, 21, 40000, "SA", 0)},
		{2 * ms, tcp(cli, srv, 40000, 21, "A", 0)},
		{3 * ms, frame{src: cli, dst: srv, sport: 40000, dport: 21, proto: "tcp", flags: "PA", data: []byte("USER alice\r\n")}},
		{4 * ms, frame{src: cli, dst: srv, sport: 40000, dport: 21, proto: "tcp", flags: "PA", data: []byte("PASS hunter2\r\n")}},
		{5 * ms, tcp(cli, srv, 40000, 21, "R", 0)},
	}
	var users []string
	for _, on := range []bool{true, false} {
		var got string
		e := NewExtractor(Config{Usernames: on}, func(r *Record) { got = string(r.User) })
		for _, s := range login {
			b := s.fr.bytes(t)
			e.Process(b, ci(s.at, len(b)))
		}
		e.Flush()
		users = append(users, got)
	}
	if users[0] != "alice" || users[1] != "" {
		t.Errorf("Record.User with and without Config.Usernames: %q, want alice and none", users)
	}
}
