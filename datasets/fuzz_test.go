package datasets

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vigil-nids/vigil/features"
)

func addFile(f *testing.F, path string, max int) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if len(b) > max {
		b = b[:max]
	}
	f.Add(b)
}

func FuzzLoadLabels(f *testing.F) {
	addFile(f, "testdata/lab-labels.csv", 4096)
	addFile(f, "testdata/insider-labels-cut.csv", 2048)
	f.Add([]byte("label,start,end,src,dst,sport,dport,proto,note\nx,1,2,10.0.0.0/8,,1,,udp,n\ny,2026-11-26T16:33:02Z,2026-11-26T16:33:03.5Z,::1,2001:db8::/32,,,58,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := LoadLabels(bytes.NewReader(b), "f.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for i, r := range l.Rows {
			if r.End < r.Start || r.Label == "" {
				t.Fatalf("row %d invalid: %+v", i, r)
			}
			// A flow made from the row itself must match some row.
			id := features.FlowID{Start: r.Start, End: r.End, Proto: 6}
			if r.Proto >= 0 {
				id.Proto = uint8(r.Proto)
			}
			id.Src, id.Dst = netip.IPv4Unspecified(), netip.IPv4Unspecified()
			if r.Src.IsValid() {
				id.Src = r.Src.Addr()
			}
			if r.Dst.IsValid() {
				id.Dst = r.Dst.Addr()
			}
			if r.Sport >= 0 {
				id.Sport = uint16(r.Sport)
			}
			if r.Dport >= 0 {
				id.Dport = uint16(r.Dport)
			}
			if lab, row := l.Match(id); row < 0 || lab != l.Rows[row].Label {
				t.Fatalf("row %d's own flow matched %q %d", i, lab, row)
			}
			if i > 50 {
				break
			}
		}
		_ = l.UnmatchedReport(3)
	})
}

// fuzzTable fits an encoder on the input and reads the input back with it.
func fuzzTable(t *testing.T, format string, b []byte) {
	e, err := FitEncoder(format, bytes.NewReader(b))
	if err != nil {
		return
	}
	s := e.Schema()
	tr, err := e.Open(bytes.NewReader(b), "f")
	if err != nil {
		t.Fatalf("fitted encoder cannot open its own table: %v", err)
	}
	var dst []float64
	for n := 0; ; n++ {
		row, lab, err := tr.Next(dst)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("row %d of a table that fitted: %v", n, err)
		}
		dst = row
		if len(row) != s.Len() || lab == "" {
			t.Fatalf("row of %d (schema %d), label %q", len(row), s.Len(), lab)
		}
	}
	if tr.Stats().Unknown != 0 {
		t.Fatalf("%d unknown categories in the training table itself", tr.Stats().Unknown)
	}
}

func FuzzNSLKDD(f *testing.F) {
	addFile(f, "testdata/nslkdd-train-head200.txt", 2048)
	addFile(f, "testdata/nslkdd-test-head200.txt", 1024)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzTable(t, "nsl-kdd", b) })
}

func FuzzUNSW(f *testing.F) {
	addFile(f, "testdata/unsw-train.csv", 1500)
	addFile(f, "testdata/unsw-test.csv", 1500)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzTable(t, "unsw-nb15", b) })
}

func FuzzCIC(f *testing.F) {
	addFile(f, "testdata/cic-sample.csv", 3000)
	f.Add([]byte("a, a,a.1,Label\n1,NaN,-Infinity,BENIGN\n"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzTable(t, "cic-ids", b) })
}
