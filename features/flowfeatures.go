package features

import "math"

// group is one block of the flow feature vector: its part of the schema
// and the function that appends exactly len(features) values for a flow.
// The vector is the concatenation of groups in flowGroups order, followed
// by the context features the Extractor's host context appends
// (contextFeatures).
type group struct {
	name     string
	features []Feature
	append   func(dst []float64, f *flow, a *appState) []float64 // a: the flow's hint state, nil when no payload was parsed
}

// FlowSchemaVersion is the version of FlowSchema. Bump it whenever a
// feature is added, removed, reordered or changes meaning.
//
// Version 2 added the application hints (hints.go) and the host, service
// and beaconing context (context.go). Version 4: beacon_iat_cv (beacon_iat_cv_less_clockwork since version 6) goes
// negative by the evidence of clockwork timing (context.go, regularity).
// Version 6: the victim's view (victim.go: unsolicited_response and the
// dst_* responder windows), and beacon_iat_cv renamed
// beacon_iat_cv_less_clockwork for what it holds.
const FlowSchemaVersion = 6

var flowGroups = []group{
	{"volume", volumeFeatures, appendVolume},
	{"payload", payloadFeatures, appendPayload},
	{"iat", iatFeatures, appendIAT},
	{"tcp", tcpFeatures, appendTCP},
	{"rate", rateFeatures, appendRate},
	{"activity", activityFeatures, appendActivity},
	{"service", serviceFeatures, appendService},
	{"hints", hintFeatures, appendHints},
}

// FlowSchema returns the versioned schema of the vectors the Extractor
// emits (Name "flow"). The caller may keep and modify the returned value.
func FlowSchema() *Schema {
	s := &Schema{Name: "flow", Version: FlowSchemaVersion}
	for _, g := range flowGroups {
		s.Features = append(s.Features, g.features...)
	}
	s.Features = append(s.Features, contextFeatures...) // appended by the Extractor's context
	s.Features = append(s.Features, victimFeatures...)  // and its victim-side context (victim.go)
	return s
}

func ft(name, unit, desc string, count bool) Feature {
	return Feature{Name: name, Unit: unit, Description: desc, Count: count}
}

var volumeFeatures = []Feature{
	ft("flow_duration", "s", "time from the first to the last packet of the record", true),
	ft("fwd_pkts", "packets", "packets sent by the flow's initiator (the first packet's sender)", true),
	ft("bwd_pkts", "packets", "packets sent by the responder", true),
	ft("fwd_bytes", "bytes", "IP-layer bytes (as declared by the IP header) sent by the initiator", true),
	ft("bwd_bytes", "bytes", "IP-layer bytes sent by the responder", true),
	ft("fwd_header_len", "bytes", "IP (with options and IPv6 extension headers) plus transport header bytes sent by the initiator", true),
	ft("bwd_header_len", "bytes", "IP plus transport header bytes sent by the responder", true),
}

func appendVolume(dst []float64, f *flow, _ *appState) []float64 {
	return append(dst,
		secs(usOff(f.last-f.start)),
		float64(f.fwdPkts), float64(f.bwdPkts),
		float64(f.fwdBytes), float64(f.bwdBytes),
		float64(f.fwdHdr), float64(f.bwdHdr))
}

var payloadFeatures = []Feature{
	ft("fwd_pkt_len_min", "bytes", "smallest transport payload (IP bytes minus headers) of an initiator packet", true),
	ft("fwd_pkt_len_max", "bytes", "largest transport payload of an initiator packet", true),
	ft("fwd_pkt_len_mean", "bytes", "mean transport payload of the initiator's packets", true),
	ft("fwd_pkt_len_std", "bytes", "population standard deviation of the initiator's payload lengths", true),
	ft("bwd_pkt_len_min", "bytes", "smallest transport payload of a responder packet (0 when none)", true),
	ft("bwd_pkt_len_max", "bytes", "largest transport payload of a responder packet", true),
	ft("bwd_pkt_len_mean", "bytes", "mean transport payload of the responder's packets", true),
	ft("bwd_pkt_len_std", "bytes", "population standard deviation of the responder's payload lengths", true),
}

func appendPayload(dst []float64, f *flow, _ *appState) []float64 {
	pay := func(dst []float64, n uint32, sum uint64, mn, mx uint16, sq float64) []float64 {
		if n == 0 {
			return append(dst, 0, 0, 0, 0)
		}
		mean, std := meanStd(float64(n), float64(sum), sq)
		return append(dst, float64(mn), float64(mx), mean, std)
	}
	dst = pay(dst, f.fwdPkts, f.fwdBytes-f.fwdHdr, f.payMin[0], f.payMax[0], f.paySq[0])
	return pay(dst, f.bwdPkts, f.bwdBytes-f.bwdHdr, f.payMin[1], f.payMax[1], f.paySq[1])
}

var iatFeatures = []Feature{
	ft("flow_iat_min", "s", "shortest gap between consecutive packets of the flow (either direction)", true),
	ft("flow_iat_max", "s", "longest gap between consecutive packets", true),
	ft("flow_iat_mean", "s", "mean gap between consecutive packets", true),
	ft("flow_iat_std", "s", "population standard deviation of the gaps between consecutive packets", true),
	ft("fwd_iat_min", "s", "shortest gap between consecutive initiator packets", true),
	ft("fwd_iat_max", "s", "longest gap between consecutive initiator packets", true),
	ft("fwd_iat_mean", "s", "mean gap between consecutive initiator packets", true),
	ft("fwd_iat_std", "s", "population standard deviation of the gaps between initiator packets", true),
	ft("bwd_iat_min", "s", "shortest gap between consecutive responder packets", true),
	ft("bwd_iat_max", "s", "longest gap between consecutive responder packets", true),
	ft("bwd_iat_mean", "s", "mean gap between consecutive responder packets", true),
	ft("bwd_iat_std", "s", "population standard deviation of the gaps between responder packets", true),
}

func appendIAT(dst []float64, f *flow, _ *appState) []float64 {
	iat := func(dst []float64, i int, n uint32, span uint32) []float64 {
		if n < 2 {
			return append(dst, 0, 0, 0, 0)
		}
		m := float64(n - 1)
		mean, std := meanStd(m, float64(span), f.iatSq[i])
		return append(dst, secs(f.iatMin[i]), secs(f.iatMax[i]), mean/1e6, std/1e6)
	}
	dst = iat(dst, 0, f.fwdPkts+f.bwdPkts, usOff(f.last-f.start))
	dst = iat(dst, 1, f.fwdPkts, f.lastFwd-f.firstFwd)
	return iat(dst, 2, f.bwdPkts, f.lastBwd-f.firstBwd)
}

var tcpFeatures = []Feature{
	ft("fin_flag_cnt", "packets", "packets with FIN set (each packet counted once)", true),
	ft("syn_flag_cnt", "packets", "packets with SYN set (including SYN-ACK)", true),
	ft("syn_ack_cnt", "packets", "packets with both SYN and ACK set", true),
	ft("rst_flag_cnt", "packets", "packets with RST set", true),
	ft("psh_flag_cnt", "packets", "packets with PSH set", true),
	ft("urg_flag_cnt", "packets", "packets with URG set", true),
	ft("ece_flag_cnt", "packets", "packets with ECE set", true),
	ft("cwr_flag_cnt", "packets", "packets with CWR set", true),
	ft("tcp_syn_only", "bool", "1 when the flow opened with a SYN that got no SYN-ACK", false),
	ft("tcp_half_open", "bool", "1 when SYN and SYN-ACK were seen but no ACK from the initiator", false),
	ft("tcp_established", "bool", "1 when the three-way handshake completed", false),
	ft("tcp_midstream", "bool", "1 when the first TCP packet was not a SYN (flow picked up mid-stream)", false),
	ft("tcp_reset", "bool", "1 when a RST was seen", false),
	ft("tcp_closed", "bool", "1 when both sides sent FIN", false),
	ft("init_fwd_win_byts", "bytes", "TCP window field of the initiator's first packet (-1 when none)", false),
	ft("init_bwd_win_byts", "bytes", "TCP window field of the responder's first packet (-1 when none)", false),
}

func appendTCP(dst []float64, f *flow, _ *appState) []float64 {
	for _, c := range f.flags {
		dst = append(dst, float64(c))
	}
	st := f.state
	var synOnly, half, est, mid float64
	switch {
	case st&stTCPMid != 0:
		mid = 1
	case st&stEstablished != 0:
		est = 1
	case st&stSynAck != 0:
		half = 1
	case st&stTCPSyn != 0:
		synOnly = 1
	}
	wf, wb := -1.0, -1.0
	if st&stWinFwd != 0 {
		wf = float64(f.win[0])
	}
	if st&stWinBwd != 0 {
		wb = float64(f.win[1])
	}
	return append(dst, synOnly, half, est, mid, b2f(st&stRST != 0), b2f(st&(stFinFwd|stFinBwd) == stFinFwd|stFinBwd), wf, wb)
}

var rateFeatures = []Feature{
	ft("flow_byts_s", "bytes/s", "IP bytes both ways per second of flow duration (0 when the duration is 0)", true),
	ft("flow_pkts_s", "packets/s", "packets both ways per second of flow duration (0 when the duration is 0)", true),
	ft("fwd_pkts_s", "packets/s", "initiator packets per second of flow duration", true),
	ft("bwd_pkts_s", "packets/s", "responder packets per second of flow duration", true),
	ft("down_up_ratio", "ratio", "responder packets / initiator packets (not truncated to an integer)", true),
}

func appendRate(dst []float64, f *flow, _ *appState) []float64 {
	d := secs(usOff(f.last - f.start))
	var bs, ps, fs, bps float64
	if d > 0 {
		bs = float64(f.fwdBytes+f.bwdBytes) / d
		ps = float64(f.fwdPkts+f.bwdPkts) / d
		fs = float64(f.fwdPkts) / d
		bps = float64(f.bwdPkts) / d
	}
	var ratio float64
	if f.fwdPkts > 0 {
		ratio = float64(f.bwdPkts) / float64(f.fwdPkts)
	}
	return append(dst, bs, ps, fs, bps, ratio)
}

var activityFeatures = []Feature{
	ft("active_min", "s", "shortest active period (packets less than Config.ActivityTimeout apart)", true),
	ft("active_max", "s", "longest active period", true),
	ft("active_mean", "s", "mean active period", true),
	ft("active_std", "s", "population standard deviation of the active periods", true),
	ft("idle_min", "s", "shortest idle period (a gap longer than Config.ActivityTimeout; 0 when none)", true),
	ft("idle_max", "s", "longest idle period", true),
	ft("idle_mean", "s", "mean idle period", true),
	ft("idle_std", "s", "population standard deviation of the idle periods", true),
}

func appendActivity(dst []float64, f *flow, _ *appState) []float64 {
	span := usOff(f.last - f.start)
	cur := span - f.actStart // the current (last) active period
	mn, mx := f.actMin, f.actMax
	minmax(&mn, &mx, cur)
	n := float64(f.nIdle + 1)
	sum := float64(f.actSum) + float64(cur)
	mean, std := meanStd(n, sum, f.actSq+float64(cur)*float64(cur))
	dst = append(dst, secs(mn), secs(mx), mean/1e6, std/1e6)
	if f.nIdle == 0 {
		return append(dst, 0, 0, 0, 0)
	}
	idleSum := float64(span) - sum
	mean, std = meanStd(float64(f.nIdle), idleSum, f.idleSq)
	return append(dst, secs(f.idleMin), secs(f.idleMax), mean/1e6, std/1e6)
}

var serviceFeatures = []Feature{
	ft("dport_well_known", "bool", "1 when the initiator's TCP/UDP destination port is below 1024", false),
	ft("dport_registered", "bool", "1 when the destination port is 1024-49151", false),
	ft("dport_ephemeral", "bool", "1 when the destination port is 49152 or above", false),
	ft("proto_tcp", "bool", "1 for TCP", false),
	ft("proto_udp", "bool", "1 for UDP", false),
	ft("proto_icmp", "bool", "1 for ICMP or ICMPv6", false),
	ft("proto_other", "bool", "1 for any other IP protocol", false),
}

func appendService(dst []float64, f *flow, _ *appState) []float64 {
	var wk, reg, eph float64
	p := f.key.proto
	if p == 6 || p == 17 {
		port := f.key.pb
		if f.state&stSrcIsA == 0 {
			port = f.key.pa
		}
		switch {
		case port < 1024:
			wk = 1
		case port < 49152:
			reg = 1
		default:
			eph = 1
		}
	}
	icmp := p == 1 && !f.key.v6 || p == 58 && f.key.v6
	return append(dst, wk, reg, eph, b2f(p == 6), b2f(p == 17), b2f(icmp), b2f(p != 6 && p != 17 && !icmp))
}

func secs(us uint32) float64 { return float64(us) / 1e6 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// meanStd returns the mean and population standard deviation of n values
// with the given sum and sum of squares.
func meanStd(n, sum, sq float64) (mean, std float64) {
	mean = sum / n
	v := sq/n - mean*mean
	if v <= 0 {
		return mean, 0
	}
	return mean, math.Sqrt(v)
}
