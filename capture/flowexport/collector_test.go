package flowexport

import (
	"net/netip"
	"path/filepath"
	"sort"
	"testing"

	"github.com/vigil-nids/vigil/capture"
)

func readFixture(t testing.TB, name string, cfg Config) ([]Record, Stats) {
	t.Helper()
	src, err := capture.Open([]string{filepath.Join("testdata", name)}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c := New(cfg)
	recs, err := c.ReadAll(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	return recs, c.Stats()
}

type totals struct{ records, packets, bytes uint64 }

func sum(recs []Record) totals {
	var s totals
	for _, r := range recs {
		s.records++
		s.packets += r.Packets + r.RevPackets
		s.bytes += r.Bytes + r.RevBytes
	}
	return s
}

// The fixtures are softflowd's v5, v9 and IPFIX exports of testdata/lab's
// baseline (see testdata/README.md): softflowd -d reported 664 records
// for each, and nfdump read the totals below from nfcapd's files of the
// same streams.
func TestSoftflowdExports(t *testing.T) {
	for _, tc := range []struct {
		file      string
		datagrams uint64
		want      totals
	}{
		{"softflowd-v5.pcap", 23, nfdumpBaseline},
		{"softflowd-v9.pcap", 22, nfdumpBaseline},
		{"softflowd-ipfix.pcap", 22, nfdumpBaseline},
	} {
		t.Run(tc.file, func(t *testing.T) {
			recs, st := readFixture(t, tc.file, Config{})
			if got := sum(recs); got != tc.want {
				t.Errorf("records/packets/bytes = %+v, want %+v", got, tc.want)
			}
			if st.Datagrams != tc.datagrams || st.Records != tc.want.records {
				t.Errorf("stats datagrams %d records %d, want %d %d", st.Datagrams, st.Records, tc.datagrams, tc.want.records)
			}
			if len(st.Drops) != 0 || st.SequenceGaps != 0 {
				t.Errorf("drops %v gaps %d, want none", st.Drops, st.SequenceGaps)
			}
			for _, r := range recs {
				if r.Start <= 0 || r.End < r.Start || r.End-r.Start > 600e9 {
					t.Fatalf("record %+v: implausible times", r)
				}
			}
		})
	}
}

// The three versions describe the same flows: the same multiset of
// (5-tuple, packets, bytes), with start and end times within the v9
// header's resolution (whole seconds; v5 and IPFIX carry milliseconds).
func TestVersionsAgree(t *testing.T) {
	type key struct {
		src, dst       netip.Addr
		sport, dport   uint16
		proto          uint8
		packets, bytes uint64
	}
	times := func(file string) map[key][][2]int64 {
		recs, _ := readFixture(t, file, Config{})
		m := map[key][][2]int64{}
		for _, r := range recs {
			k := key{r.Src, r.Dst, r.SrcPort, r.DstPort, r.Proto, r.Packets, r.Bytes}
			m[k] = append(m[k], [2]int64{r.Start, r.End})
		}
		for _, v := range m {
			sort.Slice(v, func(i, j int) bool { return v[i][0] < v[j][0] })
		}
		return m
	}
	v5 := times("softflowd-v5.pcap")
	for _, f := range []string{"softflowd-v9.pcap", "softflowd-ipfix.pcap"} {
		m := times(f)
		if len(m) != len(v5) {
			t.Errorf("%s: %d distinct records, v5 %d", f, len(m), len(v5))
		}
		bad := 0
		for k, want := range v5 {
			got := m[k]
			if len(got) != len(want) {
				t.Logf("%s %+v: %d records, v5 %d", f, k, len(got), len(want))
				bad++
				continue
			}
			for i := range got {
				if d := got[i][0] - want[i][0]; d < -1001e6 || d > 1001e6 {
					t.Logf("%s %+v: start %d v5 %d", f, k, got[i][0], want[i][0])
					bad++
				} else if d := got[i][1] - want[i][1]; d < -1001e6 || d > 1001e6 {
					t.Logf("%s %+v: end %d v5 %d", f, k, got[i][1], want[i][1])
					bad++
				}
			}
		}
		if bad != 0 {
			t.Errorf("%s: %d of %d v5 records differ", f, bad, len(v5))
		}
	}
}

// Losing a datagram shows as sequence gaps in the units of each version:
// flows for v5, datagrams for v9, data records for IPFIX.
func TestSequenceGaps(t *testing.T) {
	for _, tc := range []struct {
		file string
		v9   bool
	}{{"softflowd-v5.pcap", false}, {"softflowd-v9.pcap", true}, {"softflowd-ipfix.pcap", false}} {
		src, err := capture.Open([]string{filepath.Join("testdata", tc.file)}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		all, lossy := New(Config{}), New(Config{})
		var lost uint64
		for i := 0; ; i++ {
			frame, ci, err := src.ReadPacket()
			if err != nil {
				break
			}
			from, p, ok := Datagram(frame, ci.LinkType)
			if !ok {
				t.Fatalf("%s: frame %d is not a datagram", tc.file, i)
			}
			recs, _ := all.Decode(nil, from, p, ci.Timestamp)
			if i == 5 { // the sixth datagram is lost (templates come first)
				lost = uint64(len(recs))
				if tc.v9 {
					lost = 1
				}
				continue
			}
			lossy.Decode(nil, from, p, ci.Timestamp)
		}
		src.Close()
		if lost == 0 {
			t.Fatalf("%s: the sixth datagram holds no records", tc.file)
		}
		if got := lossy.Stats().SequenceGaps; got != lost {
			t.Errorf("%s: gaps %d, want %d", tc.file, got, lost)
		}
		if got := all.Stats().SequenceGaps; got != 0 {
			t.Errorf("%s: %d gaps without loss", tc.file, got)
		}
	}
}

// nfdumpBaseline is what nfdump -R read from nfcapd's files of the three
// streams (the same for each): total flows, packets, bytes.
var nfdumpBaseline = totals{664, 14038, 11771719}
