package train

import (
	"hash/fnv"
	"net/netip"
	"testing"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features/afterimage"
)

func TestPacketGroup(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	fwd := afterimage.PacketID{Timestamp: 1, Src: a, Dst: b, SrcPort: 40000, DstPort: 80, Proto: 6}
	rev := afterimage.PacketID{Timestamp: 2, Src: b, Dst: a, SrcPort: 80, DstPort: 40000, Proto: 6}
	if PacketGroup(fwd) != PacketGroup(rev) {
		t.Error("the two directions of a conversation have different groups")
	}
	for name, other := range map[string]afterimage.PacketID{
		"port":  {Src: a, Dst: b, SrcPort: 40001, DstPort: 80, Proto: 6},
		"proto": {Src: a, Dst: b, SrcPort: 40000, DstPort: 80, Proto: 17},
		"host":  {Src: a, Dst: netip.MustParseAddr("10.0.0.3"), SrcPort: 40000, DstPort: 80, Proto: 6},
		// Same address both ways: the ports order the key.
		"swapped ports": {Src: a, Dst: b, SrcPort: 80, DstPort: 40000, Proto: 6},
	} {
		if PacketGroup(other) == PacketGroup(fwd) {
			t.Errorf("%s: a different 5-tuple shares the group", name)
		}
	}
	self := afterimage.PacketID{Src: a, Dst: a, SrcPort: 5, DstPort: 7, Proto: 17}
	selfRev := afterimage.PacketID{Src: a, Dst: a, SrcPort: 7, DstPort: 5, Proto: 17}
	if PacketGroup(self) != PacketGroup(selfRev) {
		t.Error("a host talking to itself: the directions differ")
	}
	// The value is FNV-1a 64 of the canonical key's bytes (it seeds the
	// folds, so a trained packet model depends on it).
	h := fnv.New64a()
	a16, b16 := a.As16(), b.As16()
	h.Write(a16[:])
	h.Write(b16[:])
	h.Write([]byte{40000 >> 8, 40000 & 0xff, 0, 80, 6})
	if got, want := PacketGroup(rev), h.Sum64(); got != want {
		t.Errorf("PacketGroup %#x, FNV-1a of the key %#x", got, want)
	}
}

// TestExtractPackets: one row per IP packet, grouped by 5-tuple.
func TestExtractPackets(t *testing.T) {
	const sample = "../features/afterimage/testdata/lab-mixed-600.pcap.gz"
	open := func() *capture.Files {
		src, err := capture.Open([]string{sample}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	// The groups each packet should get, from a separate extractor.
	ref := afterimage.New(afterimage.Config{})
	var want []uint64
	src := open()
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			break
		}
		if _, ok := ref.Process(data, ci, nil); ok {
			want = append(want, PacketGroup(ref.Last()))
		}
	}
	res := NewReservoir(afterimage.NumFeatures, 10_000, 1)
	st, n, err := ExtractPackets(open(), afterimage.Config{}, res)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) || st.IP != uint64(n) || st.Packets < st.IP || res.Len() != len(want) {
		t.Fatalf("%d rows offered, %d kept, stats %+v; want %d IP packets", n, res.Len(), st, len(want))
	}
	distinct := map[uint64]bool{}
	for i, g := range res.Groups() {
		if g != want[i] {
			t.Fatalf("row %d: group %x, want %x", i, g, want[i])
		}
		distinct[g] = true
	}
	if len(distinct) < 2 || len(distinct) >= len(want) {
		t.Fatalf("%d groups for %d packets: want conversations of several packets", len(distinct), len(want))
	}
	// A bounded reservoir keeps its bound.
	small := NewReservoir(afterimage.NumFeatures, 50, 1)
	if _, n, err := ExtractPackets(open(), afterimage.Config{}, small); err != nil || small.Len() != 50 || small.Seen() != n {
		t.Fatalf("bounded: kept %d of %d (err %v), want 50", small.Len(), n, err)
	}
}
