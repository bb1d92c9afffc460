package features

import (
	"net/netip"
	"testing"
)

func TestClassifyApp(t *testing.T) {
	a4 := netip.MustParseAddr("10.0.0.1")
	b4 := netip.MustParseAddr("10.0.0.2")
	id := func(proto uint8, sport, dport uint16) *FlowID {
		return &FlowID{Src: a4, Dst: b4, Proto: proto, Sport: sport, Dport: dport}
	}
	for _, tc := range []struct {
		name string
		id   *FlowID
		a    *appState
		want AppProto
	}{
		{"dns by port", id(17, 40000, 53), nil, AppDNS},
		{"unsolicited dns response by source port", id(17, 53, 40000), nil, AppDNS},
		{"dns payload on odd port", id(17, 40000, 5300), &appState{dnsQ: 1}, AppDNS},
		{"tls hello on 8080 beats the port", id(6, 40000, 8080), &appState{tlsHello: true}, AppTLS},
		{"ssh banner on 2222", id(6, 40000, 2222), &appState{sshBanner: 3}, AppSSH},
		{"http request on 3000", id(6, 40000, 3000), &appState{httpReq: 1}, AppHTTP},
		{"http by port", id(6, 40000, 80), nil, AppHTTP},
		{"payload state with no protocol falls back to the port", id(6, 40000, 21), &appState{seen: true}, AppFTP},
		{"smb", id(6, 40000, 445), nil, AppSMB},
		{"ntp", id(17, 123, 123), nil, AppNTP},
		{"ssdp", id(17, 40000, 1900), nil, AppSSDP},
		{"snmp", id(17, 40000, 161), nil, AppSNMP},
		{"quic is udp 443", id(17, 40000, 443), nil, AppQUIC},
		{"tls is tcp 443", id(6, 40000, 443), nil, AppTLS},
		{"unknown tcp", id(6, 40000, 40001), nil, AppOtherTCP},
		{"unknown udp", id(17, 40000, 40001), nil, AppOtherUDP},
		{"icmp", id(1, 8, 0), nil, AppICMP},
		{"icmpv6", id(58, 128, 0), nil, AppICMP},
		{"gre", id(47, 0, 0), nil, AppOther},
		{"ports of tcp name nothing for udp", id(17, 40000, 22), nil, AppOtherUDP},
	} {
		if got := classifyApp(tc.id, tc.a); got != tc.want {
			t.Errorf("%s: classifyApp = %v, want %v", tc.name, got, tc.want)
		}
	}
	for p := AppProto(0); p < NumAppProtos; p++ {
		if p.String() == "" || p.String() == "unknown" {
			t.Errorf("AppProto(%d) has no name", p)
		}
	}
	if NumAppProtos.String() != "unknown" {
		t.Errorf("NumAppProtos.String() = %q", NumAppProtos.String())
	}
}

// TestAppCountsLab: on the lab sample the per-application counts add up to
// the final records (flows: first records; packets and bytes: all), every
// DNS packet the capture's UDP port 53 flows carry is counted as dns, and
// the protocols the lab speaks are there.
func TestAppCountsLab(t *testing.T) {
	recs, e := extractAll(Config{}, readPackets(t, "../testdata/lab/mixed.pcap.gz"))
	st := e.Stats()
	var sum AppCount
	for _, c := range st.Apps {
		sum.Flows += c.Flows
		sum.Packets += c.Packets
		sum.Bytes += c.Bytes
	}
	var want AppCount
	var udpDNS uint64
	for i := range recs {
		r := &recs[i]
		if r.Seq == 0 {
			want.Flows++
		}
		want.Packets += r.FwdPackets + r.BwdPackets
		want.Bytes += r.FwdBytes + r.BwdBytes
		if r.Proto == 17 && (r.Dport == 53 || r.Sport == 53) {
			udpDNS += r.FwdPackets + r.BwdPackets
		}
	}
	if sum != want {
		t.Errorf("apps add up to %+v, records to %+v", sum, want)
	}
	if udpDNS == 0 || st.Apps[AppDNS].Packets < udpDNS {
		t.Errorf("dns packets %d, udp/53 flows carry %d", st.Apps[AppDNS].Packets, udpDNS)
	}
	m := st.AppCounts()
	for _, name := range []string{"http", "ssh", "ftp", "dns", "icmp"} {
		if m[name].Flows == 0 {
			t.Errorf("no %s flows: %v", name, m)
		}
	}
	for name, c := range m {
		if c.Flows == 0 && c.Packets == 0 {
			t.Errorf("AppCounts holds empty %s", name)
		}
	}
}
