package evalcmd

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/evaluate"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/cli"
)

// ptuple is a packet's 5-tuple in canonical order (lower address, then
// lower port, first); ports are 0 unless TCP or UDP.
type ptuple struct {
	a, b   netip.Addr
	pa, pb uint16
	proto  uint8
}

func canonTuple(a netip.Addr, pa uint16, b netip.Addr, pb uint16, proto uint8) ptuple {
	a, b = a.Unmap(), b.Unmap()
	if c := a.Compare(b); c > 0 || c == 0 && pa > pb {
		a, b, pa, pb = b, a, pb, pa
	}
	return ptuple{a, b, pa, pb, proto}
}

// packetSamples decodes path with gopacket's own (non-afterimage) decoding
// and returns the label of every bidirectional 5-tuple of IPv4 packets,
// matched with a fresh load of labels.csv over the span of its packets:
// the samples evaluate should count for a packet model.
func packetSamples(t *testing.T, path string) map[ptuple]string {
	t.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	type span struct {
		first, last int64
		id          features.FlowID // the first packet's direction
	}
	spans := map[ptuple]*span{}
	for {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, ci.LinkType, gopacket.NoCopy)
		ip4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			continue
		}
		s, _ := netip.AddrFromSlice(ip4.SrcIP)
		d, _ := netip.AddrFromSlice(ip4.DstIP)
		var sp, dp uint16
		proto := uint8(ip4.Protocol)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			sp, dp = uint16(tcp.SrcPort), uint16(tcp.DstPort)
		} else if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			sp, dp = uint16(udp.SrcPort), uint16(udp.DstPort)
		}
		k := canonTuple(s, sp, d, dp, proto)
		if sn := spans[k]; sn != nil {
			sn.last = ci.Timestamp
			continue
		}
		spans[k] = &span{first: ci.Timestamp, last: ci.Timestamp,
			id: features.FlowID{Src: s.Unmap(), Dst: d.Unmap(), Sport: sp, Dport: dp, Proto: proto}}
	}
	l, err := datasets.LoadLabelsFile(labelsFile)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[ptuple]string, len(spans))
	for k, sn := range spans {
		id := sn.id
		id.Start, id.End = sn.first, sn.last
		out[k], _ = l.Match(id)
	}
	return out
}

// TestPacketModel: a packet model (Kitsune's AfterImage features) is
// evaluated per bidirectional 5-tuple, labeled as flows are, and a 5-tuple
// counts as detected exactly when detect alerted on one of its packets.
func TestPacketModel(t *testing.T) {
	model := train(t, "--pcap", baseline, "--features", "packet")
	dir := t.TempDir()
	// The default follows the model; --features packet agrees with it.
	rep, raw, stderr := evalOK(t, "--model", model, "--pcap", mixed, "--labels", labelsFile, "--features", "packet", "--out", filepath.Join(dir, "report"))
	if !strings.Contains(stderr, "per packet: ensemble ROC-AUC 0.9") {
		t.Errorf("no per-packet ROC-AUC of at least 0.9 on stderr: %q", stderr)
	}
	samples := packetSamples(t, mixed)
	want := map[string]int{}
	for _, l := range samples {
		want[l]++
	}
	checkReport(t, rep, raw, want, allModels)
	for _, l := range []string{"portscan_syn", "service_scan", "syn_flood", "bruteforce_ftp"} {
		if want[l] == 0 {
			t.Fatalf("the sample has no %s 5-tuples", l)
		}
	}

	// detect's alerts, by 5-tuple and label.
	alerted := map[ptuple]bool{}
	for _, a := range detectAlerts(t, dir, "--model", model, "--pcap", mixed) {
		var sp, dp uint16
		if a.SrcPort != nil && a.DestPort != nil {
			sp, dp = *a.SrcPort, *a.DestPort
		}
		k := canonTuple(a.SrcIP, sp, a.DestIP, dp, protoOf(t, a.Proto))
		if _, ok := samples[k]; !ok {
			t.Fatalf("alert on a 5-tuple not in the capture: %+v", k)
		}
		alerted[k] = true
	}
	detected := map[string]int{}
	for k, l := range samples {
		if alerted[k] {
			detected[l]++
		}
	}
	ens := rep.Models["ensemble"]
	for l, n := range want {
		if l == evaluate.Benign {
			if ens.FP != int64(detected[l]) {
				t.Errorf("benign: evaluate counts %d false positives, detect alerted on %d benign 5-tuples", ens.FP, detected[l])
			}
			continue
		}
		ls := ens.PerLabel[l]
		if ls.Detected != detected[l] {
			t.Errorf("%s: evaluate detected %d of %d 5-tuples, detect alerted on %d", l, ls.Detected, n, detected[l])
		}
		if ls.ROCAUC == nil || *ls.ROCAUC < 0.9 {
			t.Errorf("%s: per-label ROC-AUC %v, want >= 0.9", l, ls.ROCAUC)
		}
	}
	if ens.ROCAUC == nil || *ens.ROCAUC < 0.95 {
		t.Errorf("ensemble ROC-AUC %v, want >= 0.95 on the sample", ens.ROCAUC)
	}
}

func protoOf(t *testing.T, name string) uint8 {
	t.Helper()
	for p := 0; p < 256; p++ {
		if features.ProtoName(uint8(p)) == name {
			return uint8(p)
		}
	}
	t.Fatalf("alert proto %q: unknown", name)
	return 0
}

// TestFeaturesMismatch: evaluate scores what the model was trained on.
func TestFeaturesMismatch(t *testing.T) {
	flowModel := train(t, "--pcap", baseline, "--trees", "10")
	packetModel := train(t, "--pcap", baseline, "--features", "packet", "--trees", "10")
	dir := t.TempDir()
	for _, tc := range []struct{ model, flag, want string }{
		{flowModel, "packet", "trained on flow features"},
		{packetModel, "flow", "trained on packet features"},
	} {
		out := filepath.Join(dir, tc.flag)
		r := runEval(t, "--model", tc.model, "--pcap", mixed, "--labels", labelsFile, "--features", tc.flag, "--out", out)
		if r.code != cli.ExitUsage || bytes.Count([]byte(r.stderr), []byte("\n")) != 1 || !bytes.Contains([]byte(r.stderr), []byte(tc.want)) {
			t.Errorf("--features %s: exit %d, stderr %q; want exit 2, one line mentioning %q", tc.flag, r.code, r.stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(out, "report.json")); err == nil {
			t.Errorf("--features %s: a refused run wrote a report", tc.flag)
		}
	}
}
