package detect

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/train"
)

// The end-to-end test uses the repository's sample lab data
// (../testdata/lab, see its README.md): a 60 s benign baseline and a 27 s
// mixed cut in which 10.77.0.66 runs beaconing, an nmap SYN scan, an nmap
// service scan, an hping3 SYN flood and hydra against 10.77.0.10/.22.
const (
	labBaseline = "../testdata/lab/baseline.pcap.gz"
	labMixed    = "../testdata/lab/mixed.pcap.gz"
)

var attacker = netip.MustParseAddr("10.77.0.66")

func trainLab(t testing.TB) *bundle.Bundle {
	t.Helper()
	if _, err := os.Stat(labBaseline); err != nil {
		t.Skipf("sample lab data absent: %v", err)
	}
	start := time.Now()
	b, _, err := train.FromCaptures(train.CaptureConfig{Paths: []string{labBaseline}, MaxRows: 20000,
		Fit: train.Config{Seed: 7, KMeans: kmeans.Config{K: 8}}})
	t.Logf("trained in %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CheckSchema(features.FlowSchema()); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEndToEndLab(t *testing.T) {
	b := trainLab(t)
	ecfg, err := ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open([]string{labMixed}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	// Count final records by side, independently of the pipeline.
	var attackFlows, benignFlows int
	var recPkts uint64
	cfg := Config{Workers: 2, Block: true, Extractor: ecfg, Clock: WallClock{}, Metrics: NewMetrics()}
	base := cfg.defaultExtractor()
	cfg.NewExtractor = func(emit func(*features.Record)) Extractor {
		return base(func(r *features.Record) {
			if r.Final {
				recPkts += r.FwdPackets + r.BwdPackets
				if r.Src == attacker || r.Dst == attacker {
					attackFlows++
				} else {
					benignFlows++
				}
			}
			emit(r)
		})
	}
	var pcapBuf bytes.Buffer
	cfg.AnomalyPcap = &pcapBuf
	var mem Memory
	sum, err := New(FromBundle(b), cfg).Run(context.Background(), src, &mem)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d packets, %d flows (%d attacker, %d benign), %d alerts, %d pcap packets, %.0f pkts/s",
		sum.Packets, sum.Flows, attackFlows, benignFlows, sum.Alerts, sum.PcapPackets, sum.PacketsPerSecond)

	// Packets: an independent count of the file.
	n := countPackets(t, labMixed)
	if sum.Packets != n || sum.Dropped.Internal != 0 || sum.Flows != uint64(attackFlows+benignFlows) {
		t.Fatalf("summary %+v; file has %d packets", sum, n)
	}

	// Applications: every final record's packets in exactly one, the
	// flood (to port 80) as http, the same counts on /metrics.
	var appPkts uint64
	for _, c := range sum.Applications {
		appPkts += c.Packets
	}
	if appPkts != recPkts || sum.Applications["http"].Flows < 20000 {
		t.Errorf("applications %v: %d packets, final records %d", sum.Applications, appPkts, recPkts)
	}
	mfs, err := cfg.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var scraped int
	for _, mf := range mfs {
		if mf.GetName() != "vigil_app_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			app := m.GetLabel()[0].GetValue()
			if got, want := m.GetCounter().GetValue(), float64(sum.Applications[app].Packets); got != want {
				t.Errorf("vigil_app_packets_total{app=%q} = %v, summary %v", app, got, want)
			}
			scraped++
		}
	}
	if scraped != len(sum.Applications) {
		t.Errorf("/metrics has %d apps, the summary %d", scraped, len(sum.Applications))
	}

	attackAlerted := map[uint64]bool{}
	benignAlerted := map[uint64]bool{}
	ids := map[uint64]bool{}
	victims := map[netip.Addr]bool{}
	hash := b.Hash() // encodes an unsaved bundle: once
	for _, a := range mem.Alerts() {
		ids[a.FlowID] = true
		if a.Model != hash || float64(a.Score) <= float64(a.Threshold) || len(a.TopFeatures) == 0 {
			t.Fatalf("bad alert %+v", a)
		}
		if a.SrcIP == attacker || a.DestIP == attacker {
			attackAlerted[a.FlowID] = true
			if a.SrcIP == attacker {
				victims[a.DestIP] = true
			} else {
				victims[a.SrcIP] = true
			}
		} else {
			benignAlerted[a.FlowID] = true
		}
	}
	t.Logf("alerted flows: %d attacker, %d benign; victims %v", len(attackAlerted), len(benignAlerted), victims)
	if !victims[netip.MustParseAddr("10.77.0.10")] {
		t.Errorf("no alert for the scans and flood against 10.77.0.10")
	}
	// Scans and floods are mostly one-packet flows; most must alert.
	if float64(len(attackAlerted)) < 0.5*float64(attackFlows) {
		t.Errorf("%d of %d attacker flows alerted; want at least half", len(attackAlerted), attackFlows)
	}
	if float64(len(benignAlerted)) > 0.05*float64(benignFlows) {
		t.Errorf("%d of %d benign flows alerted; want at most 5%%", len(benignAlerted), benignFlows)
	}

	// The anomaly pcap: readable, and every packet belongs to an alerted flow.
	r, err := pcapgo.NewReader(&pcapBuf)
	if err != nil {
		t.Fatal(err)
	}
	var np uint64
	dec := features.NewFrameDecoder()
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := dec.FlowKeyHash(data, r.LinkType())
		if !ok || !ids[h&flowIDMask] {
			t.Fatalf("pcap packet %d (%v) is not from an alerted flow", np, ci.Timestamp)
		}
		np++
	}
	if np == 0 || np != sum.PcapPackets {
		t.Fatalf("pcap has %d packets, summary says %d", np, sum.PcapPackets)
	}
}

func countPackets(t testing.TB, path string) uint64 {
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var n uint64
	for {
		if _, _, err := src.ReadPacket(); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return n
		}
		n++
	}
}
