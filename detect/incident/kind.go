package incident

import "slices"

// Shape is what an incident is keyed by.
type Shape uint8

const (
	// Pair keys an incident by its source and destination host (one-to-one:
	// beacons, tunnels, injection, and anything not yet seen to fan in or out).
	Pair Shape = iota
	// Target keys it by the destination host (many-to-one: floods,
	// reflection, brute force).
	Target
	// Source keys it by the source host (one-to-many: scans, sweeps).
	Source
)

func (s Shape) String() string {
	switch s {
	case Target:
		return "target"
	case Source:
		return "source"
	}
	return "pair"
}

// Protocol numbers the rules name.
const (
	ICMP   = 1
	TCP    = 6
	UDP    = 17
	ICMPv6 = 58
)

// Anomaly is the kind of an incident no rule's evidence names.
const Anomaly = "anomaly"

// Rule names the kind of an alert from its evidence. An alert matches when
// its protocol is one of Proto (empty: any), at least one of Top is among
// its top features (with First: its strongest; empty Top: no condition), its source port is one of
// SrcPorts and its destination port one of DstPorts (empty: any), and its
// flow had no packet back when Unanswered is set. The first matching rule
// of the table gives the alert's kind and the key shape of the incident it
// opens.
//
// A rule's Kind may be a family that the incident's own counts settle
// (Settle): "tcp_probe" becomes port_scan or syn_flood, "udp_probe"
// port_scan or udp_flood, "icmp_probe" icmp_flood, or anomaly when the
// counts show neither.
type Rule struct {
	Kind       string
	Shape      Shape
	Proto      []uint8
	Top        []string
	SrcPorts   []uint16
	DstPorts   []uint16
	Unanswered bool
	// First: the alert's strongest feature must be one of Top (not any of
	// its top features).
	First bool
}

// Families that Settle names from the incident's counts.
const (
	TCPProbe  = "tcp_probe"
	UDPProbe  = "udp_probe"
	ICMPProbe = "icmp_probe"
)

// ReflectionPorts are UDP services that answer a small query with a large
// response, which reflection and amplification attacks abuse (chargen,
// DNS, TFTP, portmap, NTP, NetBIOS, SNMP, CLDAP, SSDP, WS-Discovery, mDNS,
// memcached).
var ReflectionPorts = []uint16{19, 53, 69, 111, 123, 137, 161, 389, 1900, 3702, 5353, 11211}

// victimView are the destination-side window features (schema v6): a rule
// that reads them keys the incident by its target.
var victimView = []string{"dst_like_initiators_10s", "dst_svc_initiators_10s", "dst_like_initiators_60s", "dst_like_prefixes_10s",
	"dst_like_conns_10s", "dst_like_unanswered_10s", "dst_like_unanswered_share_10s", "dst_syn_only_share_10s",
	"dst_like_pkts_in_s_10s", "dst_like_bytes_in_s_10s"}

// fanIn are the victim-view features that count initiators: the evidence
// of many-to-one that keys an incident by its target. (A scan's flows carry
// victim-view counts too, of one initiator's many flows: those key by the
// source-side rules below.)
var fanIn = []string{"dst_like_initiators_10s", "dst_svc_initiators_10s", "dst_like_initiators_60s", "dst_like_prefixes_10s"}

// sourceView are the source-side window features.
var sourceView = []string{"src_unanswered_60s", "src_conns_60s", "src_new_services_60s", "src_dports_60s", "src_unanswered_ratio_60s", "tcp_syn_only"}

var unsolicited = []string{"unsolicited_response", "dst_unsolicited_10s", "dst_unsolicited_share_10s"}

// DefaultRules is the kind table detect uses. Order matters: the first
// match wins, so the specific application evidence comes before the
// volume families, and a DNS tunnel's clockwork queries are a tunnel
// before they are a beacon.
var DefaultRules = []Rule{
	{Kind: "dns_tunnel", Shape: Pair, First: true, Proto: []uint8{UDP, TCP}, DstPorts: []uint16{53},
		Top: []string{"dns_sub_entropy", "dns_longest_label", "dns_qname_len", "dns_sub_digit_ratio", "dns_sub_hex_ratio", "src_dns_names_60s", "dns_rare_qtype_share"}},
	{Kind: "beacon", Shape: Pair, First: true, Top: []string{"beacon_iat_cv_less_clockwork", "beacon_conns", "beacon_iat_mad_ratio"}},
	{Kind: "web_attack", Shape: Pair, Proto: []uint8{TCP}, Top: []string{"http_sqli_tokens", "http_traversal_tokens", "http_tool_ua"}},
	{Kind: "brute_force", Shape: Target, Proto: []uint8{TCP}, Top: []string{"auth_failures", "auth_attempts", "ssh_repeated_replies", "ssh_early_close"}},
	{Kind: "udp_reflection", Shape: Target, Proto: []uint8{UDP}, Top: unsolicited},
	{Kind: "udp_reflection", Shape: Target, Proto: []uint8{UDP}, SrcPorts: ReflectionPorts, Unanswered: true},
	{Kind: TCPProbe, Shape: Target, Proto: []uint8{TCP}, Top: fanIn},
	{Kind: UDPProbe, Shape: Target, Proto: []uint8{UDP}, Top: fanIn},
	// ICMP errors and echo replies nobody asked for are sent by the host
	// the attack is about (a reflection's victim answering the reflectors
	// with port-unreachable): one incident keyed by that source.
	{Kind: Anomaly, Shape: Source, Proto: []uint8{ICMP, ICMPv6}, Top: unsolicited},
	{Kind: ICMPProbe, Shape: Target, Proto: []uint8{ICMP, ICMPv6}, Top: fanIn},
	{Kind: TCPProbe, Shape: Pair, Proto: []uint8{TCP}, Top: sourceView},
	{Kind: UDPProbe, Shape: Pair, Proto: []uint8{UDP}, Top: sourceView},
}

// match reports whether f matches r.
func (r *Rule) match(f *Flow) bool {
	if len(r.Proto) > 0 && !slices.Contains(r.Proto, f.Proto) {
		return false
	}
	if len(r.SrcPorts) > 0 && !slices.Contains(r.SrcPorts, f.Sport) {
		return false
	}
	if len(r.DstPorts) > 0 && !slices.Contains(r.DstPorts, f.Dport) {
		return false
	}
	if r.Unanswered && f.BwdPackets > 0 {
		return false
	}
	if len(r.Top) == 0 {
		return true
	}
	for i, t := range f.Top {
		if i > 0 && r.First {
			break
		}
		if slices.Contains(r.Top, t) {
			return true
		}
	}
	return false
}

// classify returns the first matching rule's kind and shape, or anomaly
// keyed by the pair.
func classify(rules []Rule, f *Flow) (string, Shape) {
	for i := range rules {
		if rules[i].match(f) {
			return rules[i].Kind, rules[i].Shape
		}
	}
	return Anomaly, Pair
}

// unansweredEvidence are the features that say a flow or its host's
// attempts went unanswered. The victim-view features are among them: the
// extractor attaches them to a TCP flow only when its handshake never
// completed (features/victim.go, likeKind).
var unansweredEvidence = append([]string{"tcp_syn_only", "src_unanswered_60s", "src_unanswered_ratio_60s"}, victimView...)

// Counts are what Settle reads of an incident.
type Counts struct {
	Flows, Dests, DestPorts uint64
	PeakPPS                 uint64
	// Unanswered is the share of its alerts with a top feature saying the
	// attempts went unanswered (unansweredEvidence).
	Unanswered float64
}

// ScanMaxPPS is the alerted packets per second (an incident's peak_pps)
// from which a spread over ports is no longer called a port scan.
const ScanMaxPPS = 5000

// Settle names a family's kind from the incident's counts; other kinds are
// returned as they are.
//
//   - a TCP or UDP probe that reached at least 10 ports, nearly one per flow
//     (ports ≥ 0.7 × flows), on at most 4 hosts, is a port_scan, unless its
//     alerted packets peaked at flood rates (ScanMaxPPS): a SYN flood on
//     random ports looks the same by its ports, so it stays anomaly;
//   - a TCP probe of at least 50 flows on one host, repeating ports (ports
//     ≤ 0.5 × flows), mostly unanswered, is a syn_flood; a UDP one a udp_flood;
//   - an ICMP probe of at least 50 flows on one host is an icmp_flood;
//   - anything else stays anomaly: the counts do not show which.
func Settle(kind string, c Counts) string {
	switch kind {
	case TCPProbe, UDPProbe, ICMPProbe:
	default:
		return kind
	}
	flows := float64(c.Flows)
	if kind != ICMPProbe && c.DestPorts >= 10 && float64(c.DestPorts) >= 0.7*flows && c.Dests <= 4 {
		if c.PeakPPS >= ScanMaxPPS {
			return Anomaly
		}
		return "port_scan"
	}
	if c.Flows >= 50 && c.Dests == 1 {
		switch {
		case kind == ICMPProbe:
			return "icmp_flood"
		case float64(c.DestPorts) > 0.5*flows:
		case kind == TCPProbe && c.Unanswered >= 0.5:
			return "syn_flood"
		case kind == UDPProbe:
			return "udp_flood"
		}
	}
	return Anomaly
}
