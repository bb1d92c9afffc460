package afterimage

import (
	"encoding/csv"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestCSVWriter(t *testing.T) {
	var sb strings.Builder
	w := NewCSVWriter(&sb)
	v := make([]float64, NumFeatures)
	for i := range v {
		v[i] = float64(i) / 3
	}
	v[0] = 2
	ids := []PacketID{
		{Timestamp: 1700000000_000000123, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("fe80::1"), SrcPort: 1000, DstPort: 80, Proto: 6},
		{Timestamp: -1_500000000, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.3"), Proto: 1},
	}
	for _, id := range ids {
		if err := w.Write(id, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(ids[0], v[:3]); err == nil {
		t.Error("short vector accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(sb.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || len(rows[0]) != 6+NumFeatures || rows[0][6] != "MI_dir_L5_weight" || rows[0][0] != "ts" {
		t.Fatalf("header %v, %d rows", rows[0][:8], len(rows))
	}
	for _, tc := range []struct {
		row, col int
		want     string
	}{
		{1, 0, "1700000000.000000123"}, {1, 1, "10.0.0.1"}, {1, 2, "1000"}, {1, 3, "fe80::1"}, {1, 4, "80"}, {1, 5, "6"}, {1, 6, "2"},
		{2, 0, "-1.500000000"}, {2, 5, "1"}, {2, 2, "0"},
	} {
		if got := rows[tc.row][tc.col]; got != tc.want {
			t.Errorf("row %d col %d = %q, want %q", tc.row, tc.col, got, tc.want)
		}
	}
	for i := 1; i < NumFeatures; i++ {
		f, err := strconv.ParseFloat(rows[1][6+i], 64)
		if err != nil || f != v[i] {
			t.Errorf("feature %d reads back %v (%v), want %v", i, f, err, v[i])
		}
	}
	var empty strings.Builder
	w = NewCSVWriter(&empty)
	if err := w.Close(); err != nil || strings.Count(empty.String(), "\n") != 1 {
		t.Errorf("empty table: %q %v", empty.String(), err)
	}
}
