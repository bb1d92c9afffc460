package features

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestWritersRoundTrip writes the same records as CSV and Parquet and
// reads both back: identity columns and every feature must survive.
func TestWritersRoundTrip(t *testing.T) {
	recs, _ := extractAll(Config{CommunityID: true}, readPackets(t, "testdata/lab-head.pcap"))
	s := FlowSchema()
	var cb, pb bytes.Buffer
	cw, pw := NewCSVWriter(&cb, s), NewParquetWriter(&pb, s)
	for i := range recs {
		if err := cw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
		if err := pw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs)+1 {
		t.Fatalf("%d CSV rows for %d records", len(rows), len(recs))
	}
	cols := Columns(s)
	for i, r := range recs {
		row := rows[i+1]
		if row[2] != r.Src.String() || row[4] != r.Dst.String() || row[7] != r.CommunityID {
			t.Errorf("row %d identity %v", i, row[:8])
		}
		sec, _ := strconv.ParseFloat(row[0], 64)
		if math.Abs(sec-float64(r.Start)/1e9) > 1e-6 {
			t.Errorf("ts_start %s for %d", row[0], r.Start)
		}
		for j, v := range r.Vector {
			got, err := strconv.ParseFloat(row[8+j], 64)
			if err != nil || got != v {
				t.Errorf("row %d %s = %q, want %v", i, cols[8+j], row[8+j], v)
			}
		}
	}

	f, err := parquet.OpenFile(bytes.NewReader(pb.Bytes()), int64(pb.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != int64(len(recs)) {
		t.Fatalf("%d parquet rows", f.NumRows())
	}
	leaf := map[string]int{}
	for i, c := range f.Schema().Columns() {
		leaf[c[0]] = i
	}
	for _, c := range cols {
		if _, ok := leaf[c]; !ok {
			t.Fatalf("parquet lacks column %s", c)
		}
	}
	out := make([]parquet.Row, len(recs))
	n := 0
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for n < len(out) {
			k, err := rr.ReadRows(out[n:])
			n += k
			if err != nil || k == 0 {
				break
			}
		}
		rr.Close()
	}
	if n != len(recs) {
		t.Fatalf("read %d parquet rows", n)
	}
	for i, r := range recs {
		row := out[i]
		if got := row[leaf["ts_start"]].Int64(); got != r.Start {
			t.Errorf("parquet ts_start %d, want %d", got, r.Start)
		}
		if got := string(row[leaf["src"]].ByteArray()); got != r.Src.String() {
			t.Errorf("parquet src %s", got)
		}
		if got := row[leaf["dport"]].Int32(); got != int32(r.Dport) {
			t.Errorf("parquet dport %d", got)
		}
		for j, v := range r.Vector {
			if got := row[leaf[s.Features[j].Name]].Double(); got != v {
				t.Errorf("parquet %s = %v, want %v", s.Features[j].Name, got, v)
			}
		}
	}
}

// TestAsyncWriter: rows written through an AsyncWriter are byte-identical
// to rows written directly, across several batches, and the reused
// Record's vector may change after Write returns.
func TestAsyncWriter(t *testing.T) {
	recs, _ := extractAll(Config{CommunityID: true}, readPackets(t, "testdata/lab-scan.pcap"))
	if len(recs) <= asyncBatch {
		t.Fatalf("only %d records: need more than one batch", len(recs))
	}
	s := FlowSchema()
	var direct, async bytes.Buffer
	dw := NewCSVWriter(&direct, s)
	aw := NewAsyncWriter(NewCSVWriter(&async, s), s.Len())
	scratch := Record{Vector: make([]float64, s.Len())}
	for i := range recs {
		if err := dw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
		v := scratch.Vector
		scratch = recs[i]
		scratch.Vector = append(v[:0], recs[i].Vector...)
		if err := aw.Write(&scratch); err != nil {
			t.Fatal(err)
		}
		for j := range scratch.Vector { // the emitter reuses its buffer
			scratch.Vector[j] = -1
		}
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(direct.Bytes(), async.Bytes()) {
		t.Fatal("AsyncWriter output differs from direct CSV")
	}
	if err := aw.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestAppendUnixNano(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0.000000000"},
		{1795707395505010000, "1795707395.505010000"},
		{-1, "-0.000000001"},
		{-1500000000, "-1.500000000"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	} {
		if got := string(AppendUnixNano(nil, tc.ns)); got != tc.want {
			t.Errorf("AppendUnixNano(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

// appendFloatRef is the definition AppendFloat must match byte for byte:
// integers below 1e15 in plain decimal, else strconv's shortest 'g'.
func appendFloatRef(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 && (v != 0 || !math.Signbit(v)) {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{7, "7"},
		{-7, "-7"},
		{1e6, "1000000"},
		{999999999999999, "999999999999999"},
		{1e15, "1e+15"},
		{0.5, "0.5"},
		{-0.5, "-0.5"},
		{4e-06, "4e-06"},
		{3.5e-06, "3.5e-06"},
		{0.0001, "0.0001"},
		{0.00012, "0.00012"},
		{123456.5, "123456.5"},
		{1234567.5, "1.2345675e+06"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{2.0 / 3, "0.6666666666666666"},
		{1e-7, "1e-07"},
		{1.5e-22, "1.5e-22"},
		{1e-300, "1e-300"},
		{math.SmallestNonzeroFloat64, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{math.NaN(), "NaN"},
		{0.30000000000000004, "0.30000000000000004"},
		{123.456, "123.456"},
		{99999.99999999999, "99999.99999999999"},
	} {
		if got := string(AppendFloat(nil, tc.v)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", tc.v, got, tc.want)
		}
		if ref := string(appendFloatRef(nil, tc.v)); ref != tc.want {
			t.Errorf("reference(%v) = %q, want %q (bad table entry)", tc.v, ref, tc.want)
		}
	}
}

// TestAppendFloatRandom compares AppendFloat with the reference on short
// decimals of every scale (the fast path's domain, and its edges) and on
// random bit patterns.
func TestAppendFloatRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(v float64) {
		if got, want := AppendFloat(nil, v), appendFloatRef(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("AppendFloat(%b) = %s, want %s", v, got, want)
		}
	}
	for range 300_000 {
		digits := 1 + r.IntN(17)
		k := r.Int64N(int64(math.Pow10(digits)))
		s := r.IntN(30)
		v := float64(k) / math.Pow10(s)
		check(v)
		check(-v)
		check(math.Nextafter(v, 0))
		check(math.Nextafter(v, 1))
		check(v * (1 + 1e-9))
		check(math.Float64frombits(r.Uint64()))
		check(r.Float64() * math.Pow10(r.IntN(20)-10))
		check(float64(r.IntN(1000)) / float64(1+r.IntN(1000)))
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, 1, 0.5, 4e-06, 1e15, 1.0 / 3, 1234567.5} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		if got, want := AppendFloat(nil, v), appendFloatRef(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("AppendFloat(%b) = %s, want %s", v, got, want)
		}
	})
}

// TestAsyncWriterCommunityIDs: records without a Community ID get the same
// one on the formatting goroutines as the extractor computes, with both
// the parallel (CSV) and the sequential (Parquet) path.
func TestAsyncWriterCommunityIDs(t *testing.T) {
	recs, _ := extractAll(Config{CommunityID: true}, readPackets(t, "testdata/lab-scan.pcap"))
	s := FlowSchema()
	for _, tc := range []struct {
		name string
		new  func(io.Writer) RecordWriter
	}{
		{"csv", func(w io.Writer) RecordWriter { return NewCSVWriter(w, s) }},
		{"parquet", func(w io.Writer) RecordWriter { return NewParquetWriter(w, s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var direct, async bytes.Buffer
			dw := tc.new(&direct)
			aw := NewAsyncWriter(tc.new(&async), s.Len())
			aw.CommunityIDs = true
			for i := range recs {
				if recs[i].CommunityID == "" {
					t.Fatal("extractor left a Community ID empty")
				}
				if err := dw.Write(&recs[i]); err != nil {
					t.Fatal(err)
				}
				r := recs[i]
				r.CommunityID = ""
				if err := aw.Write(&r); err != nil {
					t.Fatal(err)
				}
			}
			if err := dw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := aw.Close(); err != nil {
				t.Fatal(err)
			}
			if direct.Len() == 0 || !bytes.Equal(direct.Bytes(), async.Bytes()) {
				t.Fatalf("AsyncWriter output (%d bytes) differs from direct (%d bytes)", async.Len(), direct.Len())
			}
		})
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestAsyncWriterError: a write error of the inner writer comes back from
// a later Write or from Close, and a bad record's error too.
func TestAsyncWriterError(t *testing.T) {
	recs, _ := extractAll(Config{}, readPackets(t, "testdata/lab-scan.pcap"))
	s := FlowSchema()
	aw := NewAsyncWriter(NewCSVWriter(&failWriter{n: 100_000}, s), s.Len())
	var err error
	for i := 0; i < 20*asyncBatch && err == nil; i++ {
		err = aw.Write(&recs[i%len(recs)])
	}
	if cerr := aw.Close(); err == nil {
		err = cerr
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v, want disk full", err)
	}

	aw = NewAsyncWriter(NewCSVWriter(io.Discard, s), s.Len())
	bad := recs[0]
	bad.Vector = bad.Vector[:3]
	if err := aw.Write(&bad); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err == nil || !strings.Contains(err.Error(), "features") {
		t.Fatalf("short vector: got %v", err)
	}
}

// BenchmarkAppendFloat formats the value mix of a flow table (mostly
// zeros and small counts, a tenth short decimals, a few long fractions).
func BenchmarkAppendFloat(b *testing.B) {
	recs, _ := extractAll(Config{}, readPackets(b, "testdata/lab-scan.pcap", "testdata/lab-head.pcap"))
	var vals []float64
	for _, r := range recs {
		vals = append(vals, r.Vector...)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, v := range vals {
			buf = AppendFloat(buf[:0], v)
		}
		n += len(vals)
	}
	if len(buf) == 0 {
		b.Fatal("nothing formatted")
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "values/s")
}
