package features

import (
	"path/filepath"
	"testing"
)

// TestCorpus processes malformed captures from tcpdump's test suite: no
// panic, every frame accounted for, and each file's bad frame counted as
// malformed.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.pcap")
	if len(files) < 8 {
		t.Fatalf("%d corpus files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			pkts := readPackets(t, path)
			recs, e := extractAll(Config{CommunityID: true}, pkts)
			s := e.Stats()
			if s.Packets != uint64(len(pkts)) || s.Malformed == 0 {
				t.Errorf("packets %d of %d, malformed %d (by kind %v)", s.Packets, len(pkts), s.Malformed, s.MalformedBy)
			}
			links := s.ARP.Packets + s.IPv4.Packets + s.IPv6.Packets + s.NonIP.Packets + s.Malformed
			if links != s.Packets {
				t.Errorf("accounted %d of %d frames", links, s.Packets)
			}
			for _, r := range recs {
				if len(r.Vector) != FlowSchema().Len() {
					t.Errorf("vector length %d", len(r.Vector))
				}
			}
		})
	}
}
