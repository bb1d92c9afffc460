package flowexport

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// v9 builds a NetFlow v9 datagram of the given flow sets.
func v9(seq uint32, sets ...[]byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], 9)
	binary.BigEndian.PutUint16(b[2:], uint16(len(sets)))
	binary.BigEndian.PutUint32(b[4:], 1000)
	binary.BigEndian.PutUint32(b[8:], 1700000000)
	binary.BigEndian.PutUint32(b[12:], seq)
	for _, s := range sets {
		b = append(b, s...)
	}
	return b
}

// set builds a flow set of id with 16-bit words.
func set(id uint16, words ...uint16) []byte {
	b := make([]byte, 4, 4+2*len(words))
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], uint16(4+2*len(words)))
	for _, w := range words {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	return b
}

func TestBadInput(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	// template 256: src addr (8, 4 bytes), dst addr (12, 4 bytes)
	tmpl := set(0, 256, 2, 8, 4, 12, 4)
	data := set(256, 0x0a00, 0x0001, 0x0a00, 0x0002)
	for _, tc := range []struct {
		name      string
		datagrams [][]byte
		from      []netip.Addr
		cfg       Config
		records   int
		drop      string
	}{
		{"short", [][]byte{{0, 9}}, nil, Config{}, 0, DropShort},
		{"unknown version", [][]byte{{0, 7, 0, 0, 0, 0}}, nil, Config{}, 0, DropVersion},
		{"truncated v5", [][]byte{{0, 5, 0, 3, 0, 0, 0, 0}}, nil, Config{}, 0, DropTruncated},
		{"unknown template", [][]byte{v9(0, data)}, nil, Config{}, 0, DropUnknownTemplate},
		{"template of no bytes", [][]byte{v9(0, set(0, 300, 1, 8, 0))}, nil, Config{}, 0, DropBadTemplate},
		{"template of no fields", [][]byte{v9(0, set(0, 300, 0))}, nil, Config{}, 0, DropBadTemplate},
		{"template limit", [][]byte{v9(0, set(0, 256, 1, 8, 4, 257, 1, 8, 4))}, nil, Config{MaxTemplates: 1}, 0, DropTemplateLimit},
		{"exporter limit", [][]byte{v9(0, tmpl), v9(0, tmpl)}, []netip.Addr{a, netip.MustParseAddr("192.0.2.2")}, Config{MaxExporters: 1}, 0, DropExporterLimit},
		{"good", [][]byte{v9(0, tmpl, data)}, nil, Config{}, 1, ""},
		{"expired template", [][]byte{v9(0, tmpl), v9(1, data)}, nil, Config{TemplateTTL: 1}, 0, DropUnknownTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.cfg)
			var recs []Record
			for i, d := range tc.datagrams {
				from := a
				if tc.from != nil {
					from = tc.from[i]
				}
				recs, _ = c.Decode(recs, from, d, int64(i)*10)
			}
			st := c.Stats()
			if len(recs) != tc.records {
				t.Errorf("%d records, want %d", len(recs), tc.records)
			}
			if tc.drop == "" && len(st.Drops) != 0 {
				t.Errorf("drops %v, want none", st.Drops)
			}
			if tc.drop != "" && st.Drops[tc.drop] != 1 {
				t.Errorf("drops %v, want one %s", st.Drops, tc.drop)
			}
		})
	}
}
