package features

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestParseDNS checks parseDNS against messages serialized by gopacket.
func TestParseDNS(t *testing.T) {
	mk := func(name string, qt layers.DNSType, resp bool, rcode layers.DNSResponseCode, answers int) []byte {
		d := &layers.DNS{ID: 1, QR: resp, ResponseCode: rcode,
			Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qt, Class: layers.DNSClassIN}}}
		for range answers {
			d.Answers = append(d.Answers, layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, IP: []byte{1, 2, 3, 4}})
		}
		buf := gopacket.NewSerializeBuffer()
		if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		msg  []byte
		ok   bool
		want dnsInfo
	}{
		{mk("www.lab.test", layers.DNSTypeA, false, 0, 0), true, dnsInfo{qdcount: 1, qtype: 1, qnameLen: 12, labels: 3}},
		{mk("x.example", layers.DNSTypeTXT, true, layers.DNSResponseCodeNXDomain, 2), true, dnsInfo{response: true, rcode: 3, qdcount: 1, ancount: 2, qtype: 16, qnameLen: 9, labels: 2}},
		{mk("www.lab.test", layers.DNSTypeA, false, 0, 0)[:20], false, dnsInfo{}},
		{[]byte{1, 2, 3}, false, dnsInfo{}},
	}
	for i, tc := range cases {
		var got dnsInfo
		ok := parseDNS(tc.msg, &got)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("case %d: %v %+v, want %v %+v", i, ok, got, tc.ok, tc.want)
		}
	}
}

// TestSnapshotLongGap: a tiny snapshot interval and a long gap in capture
// time must not loop once per interval.
func TestSnapshotLongGap(t *testing.T) {
	e := NewExtractor(Config{SnapshotInterval: time.Nanosecond}, func(*Record) {})
	b := frame{src: cli, dst: srv, sport: 1, dport: 2, proto: "udp"}.bytes(t)
	e.Process(b, ci(0, len(b)))
	done := make(chan struct{})
	go func() {
		e.Process(b, ci(1000*time.Hour, len(b)))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Process hangs after a long gap with a small snapshot interval")
	}
}
