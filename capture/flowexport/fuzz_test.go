package flowexport

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vigil-nids/vigil/capture"
)

// FuzzDecode feeds one collector a sequence of datagrams (the fuzzer's
// input split in two: the second decoded after the first, so templates
// from one reach the other). Decode must not panic or hang, and counts
// every datagram it is given.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"softflowd-v5.pcap", "softflowd-v9.pcap", "softflowd-ipfix.pcap"} {
		src, err := capture.Open([]string{filepath.Join("testdata", name)}, capture.Options{})
		if err != nil {
			f.Fatal(err)
		}
		var prev []byte
		for i := 0; i < 3; i++ {
			frame, ci, err := src.ReadPacket()
			if err != nil {
				break
			}
			_, p, _ := Datagram(frame, ci.LinkType)
			p = append([]byte(nil), p...)
			f.Add(prev, p)
			prev = p
		}
		src.Close()
	}
	from := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, a, b []byte) {
		c := New(Config{MaxTemplates: 4})
		var recs []Record
		recs, _ = c.Decode(recs, from, a, 1e18)
		recs, _ = c.Decode(recs, from, b, 1e18)
		if st := c.Stats(); st.Datagrams != 2 || st.Records != uint64(len(recs)) || st.Templates > 4 {
			t.Fatalf("stats %+v for %d records", st, len(recs))
		}
	})
}

// FuzzDatagram: frame parsing never panics and a payload is always inside
// the frame.
func FuzzDatagram(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "softflowd-v9.pcap"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[40:140], uint16(101))
	f.Add(data[40:140], uint16(1))
	f.Fuzz(func(t *testing.T, frame []byte, link uint16) {
		_, p, ok := Datagram(frame, layersLink(link))
		if ok && len(p) > len(frame) {
			t.Fatalf("payload of %d bytes from a %d-byte frame", len(p), len(frame))
		}
	})
}

func layersLink(v uint16) layers.LinkType { return layers.LinkType(v) }
