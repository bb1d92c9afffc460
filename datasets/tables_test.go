package datasets

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"strings"
	"testing"
)

func fitFile(t *testing.T, format, path string) *Encoder {
	t.Helper()
	e, err := FitEncoderFile(format, path)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type tableResult struct {
	rows   [][]float64
	labels []string
	counts map[string]int
	stats  TableStats
}

// readAll reads a whole table reusing one dst slice, and checks every row:
// its width, and that each categorical column has exactly one hot value
// (catches stale values left in a reused dst).
func readAll(t *testing.T, e *Encoder, path string) tableResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := e.Open(f, path)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Schema()
	if tr.Width() != s.Len() {
		t.Fatalf("width %d, schema %d", tr.Width(), s.Len())
	}
	res := tableResult{counts: map[string]int{}}
	var dst []float64
	for {
		row, lab, err := tr.Next(dst)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst = row
		if len(row) != s.Len() {
			t.Fatalf("%s:%d: row of %d values, want %d", path, tr.Line(), len(row), s.Len())
		}
		for _, c := range e.Categories {
			hot := 0.0
			for i, f := range s.Features {
				if strings.HasPrefix(f.Name, c.Column+"=") {
					hot += row[i]
				}
			}
			if hot != 1 {
				t.Fatalf("%s:%d: column %s has %v hot values, want 1", path, tr.Line(), c.Column, hot)
			}
		}
		for _, x := range row {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("%s:%d: non-finite value", path, tr.Line())
			}
		}
		res.rows = append(res.rows, append([]float64(nil), row...))
		res.labels = append(res.labels, lab)
		res.counts[lab]++
	}
	res.stats = tr.Stats()
	return res
}

func benignAttack(c map[string]int) (benign, attack int) {
	for k, n := range c {
		if k == Benign {
			benign += n
		} else {
			attack += n
		}
	}
	return
}

func TestNSLKDDFixtures(t *testing.T) {
	e := fitFile(t, "nsl-kdd", "testdata/nslkdd-train-head200.txt")
	s := e.Schema()
	// 41 features - 3 categorical = 38 numeric; protocol_type icmp,tcp,udp (+other);
	// 35 distinct services of which one is the literal "other" (34 + other);
	// flags REJ,RSTR,S0,SF,SH (+other). Counted with cut -d, -fN | sort -u.
	if want := 38 + 4 + 35 + 6; s.Len() != want {
		t.Fatalf("schema len %d, want %d", s.Len(), want)
	}
	if s.Name != "nsl-kdd" || s.Version != 1 {
		t.Errorf("schema %s v%d", s.Name, s.Version)
	}
	for _, n := range []string{"duration", "protocol_type=tcp", "protocol_type=other", "service=ftp_data", "service=other", "flag=SF", "flag=other", "dst_host_srv_rerror_rate"} {
		if s.Index(n) < 0 {
			t.Errorf("schema lacks %q", n)
		}
	}
	for _, n := range []string{"label", "difficulty", "protocol_type", "service=", "flag=S3"} {
		if s.Index(n) >= 0 {
			t.Errorf("schema has %q", n)
		}
	}
	if f := s.Features[s.Index("src_bytes")]; !f.Count {
		t.Error("src_bytes not Count")
	}
	if f := s.Features[s.Index("serror_rate")]; f.Count {
		t.Error("serror_rate Count")
	}

	train := readAll(t, e, "testdata/nslkdd-train-head200.txt")
	// awk -F, '{n[$42=="normal"?"normal":"attack"]++} END{print n["normal"], n["attack"]}'
	// gives 105 95 for the train head and 85 115 for the test head.
	if b, a := benignAttack(train.counts); b != 105 || a != 95 {
		t.Errorf("train head: %d normal, %d attack; want 105, 95", b, a)
	}
	if train.stats.Unknown != 0 || train.stats.Replaced != 0 || train.stats.Rows != 200 {
		t.Errorf("train stats %+v", train.stats)
	}
	// Row 1: 0,tcp,ftp_data,SF,491,0,...,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20
	r := train.rows[0]
	for name, want := range map[string]float64{"duration": 0, "src_bytes": 491, "protocol_type=tcp": 1, "protocol_type=udp": 0,
		"service=ftp_data": 1, "flag=SF": 1, "dst_host_count": 150, "dst_host_srv_count": 25, "dst_host_same_srv_rate": 0.17,
		"dst_host_rerror_rate": 0.05, "dst_host_srv_rerror_rate": 0} {
		if got := r[s.Index(name)]; got != want {
			t.Errorf("row 1 %s = %v, want %v", name, got, want)
		}
	}
	if train.labels[0] != Benign {
		t.Errorf("row 1 label %q", train.labels[0])
	}
	// grep -c ',other,' gives 10 rows with the literal service "other".
	other := 0
	for _, row := range train.rows {
		other += int(row[s.Index("service=other")])
	}
	if other != 10 {
		t.Errorf("service=other rows %d, want 10", other)
	}

	test := readAll(t, e, "testdata/nslkdd-test-head200.txt")
	if b, a := benignAttack(test.counts); b != 85 || a != 115 {
		t.Errorf("test head: %d normal, %d attack; want 85, 115", b, a)
	}
	if test.counts["neptune"] != 54 {
		t.Errorf("neptune %d, want 54 (awk '{print $42}' | sort | uniq -c)", test.counts["neptune"])
	}
	// Values of the test head unseen in the train head (awk over both files):
	// 19 across protocol_type, service and flag, not counting literal "other".
	if test.stats.Unknown != 19 {
		t.Errorf("unknown categories %d, want 19", test.stats.Unknown)
	}
}

func TestNSLKDDShared(t *testing.T) {
	trainPath := sharedFile(t, "nsl-kdd/KDDTrain+_20Percent.txt")
	testPath := sharedFile(t, "nsl-kdd/KDDTest+.txt")
	e := fitFile(t, "nsl-kdd", trainPath)
	// PROVENANCE.md: 13449 normal + 11743 attack; 9711 + 12833.
	for _, tc := range []struct {
		path           string
		benign, attack int
	}{{trainPath, 13449, 11743}, {testPath, 9711, 12833}} {
		res := readAll(t, e, tc.path)
		if b, a := benignAttack(res.counts); b != tc.benign || a != tc.attack {
			t.Errorf("%s: %d normal, %d attack; want %d, %d", tc.path, b, a, tc.benign, tc.attack)
		}
	}
}

func TestEncoderJSON(t *testing.T) {
	e := fitFile(t, "unsw-nb15", "testdata/unsw-train.csv")
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var e2 Encoder
	if err := json.Unmarshal(b, &e2); err != nil {
		t.Fatal(err)
	}
	if e.Schema().Hash() != e2.Schema().Hash() {
		t.Fatal("schema hash changed through JSON")
	}
	r1, r2 := readAll(t, e, "testdata/unsw-test.csv"), readAll(t, &e2, "testdata/unsw-test.csv")
	for i := range r1.rows {
		for j := range r1.rows[i] {
			if r1.rows[i][j] != r2.rows[i][j] {
				t.Fatalf("row %d col %d differs after JSON", i, j)
			}
		}
	}
	// A tampered encoder is refused by Open.
	e2.Categories[0].Values = append(e2.Categories[0].Values, "aaa")
	if _, err := e2.Open(strings.NewReader(""), "x.csv"); err == nil || !strings.Contains(err.Error(), "not sorted") {
		t.Errorf("tampered encoder: %v", err)
	}
}

func TestUNSW(t *testing.T) {
	e := fitFile(t, "unsw-nb15", "testdata/unsw-train.csv")
	s := e.Schema()
	if s.Index("id") >= 0 || s.Index("label") >= 0 || s.Index("attack_cat") >= 0 {
		t.Error("id/label/attack_cat in schema")
	}
	// 45 columns - id - 2 labels - 3 categorical = 39 numeric; protos arp,tcp,udp,unas;
	// services -,dns,ftp,http,smtp; states FIN,INT (each + other).
	if want := 39 + 5 + 6 + 3; s.Len() != want {
		t.Errorf("schema len %d, want %d: %v", s.Len(), want, s.Names())
	}
	if got := e.Categories[0]; got.Column != "proto" || strings.Join(got.Values, ",") != "arp,tcp,udp,unas" {
		t.Errorf("proto categories %+v", got)
	}
	if !s.Features[s.Index("sbytes")].Count || s.Features[s.Index("sttl")].Count {
		t.Error("count flags")
	}
	train := readAll(t, e, "testdata/unsw-train.csv")
	want := []string{Benign, Benign, Benign, Benign, Benign, Benign, "Generic", "Generic", "Exploits", Benign, "Fuzzers", "Reconnaissance"}
	if strings.Join(train.labels, ",") != strings.Join(want, ",") {
		t.Errorf("labels %v, want %v", train.labels, want)
	}
	if got := train.rows[0][s.Index("dur")]; got != 0.121478 {
		t.Errorf("dur = %v", got)
	}
	test := readAll(t, e, "testdata/unsw-test.csv")
	// ospf, snmp, pop3, REQ are not in the training fixture.
	if test.stats.Unknown != 4 {
		t.Errorf("unknown %d, want 4", test.stats.Unknown)
	}
	if got := test.rows[2][s.Index("proto=other")]; got != 1 {
		t.Errorf("ospf row proto=other = %v", got)
	}
}

func TestCIC(t *testing.T) {
	e := fitFile(t, "cic-ids", "testdata/cic-sample.csv")
	s := e.Schema()
	if s.Len() != 78 || len(e.Categories) != 0 {
		t.Fatalf("schema len %d (want 78), %d categories", s.Len(), len(e.Categories))
	}
	if s.Features[0].Name != "Destination Port" || s.Index("Fwd Header Length") != 34 || s.Index("Fwd Header Length.1") != 55 {
		t.Errorf("names: %q, Fwd Header Length at %d and .1 at %d", s.Features[0].Name, s.Index("Fwd Header Length"), s.Index("Fwd Header Length.1"))
	}
	res := readAll(t, e, "testdata/cic-sample.csv")
	want := []string{Benign, Benign, Benign, Benign, "DDoS", "DDoS", "SSH-Patator", "Web Attack \uFFFD Brute Force", "FTP-Patator", Benign}
	if strings.Join(res.labels, "|") != strings.Join(want, "|") {
		t.Errorf("labels %q", res.labels)
	}
	// Row 4: NaN, Infinity, Infinity; row 5: Infinity x3.
	if res.stats.Replaced != 6 {
		t.Errorf("replaced %d, want 6", res.stats.Replaced)
	}
	if got := res.rows[3][s.Index("Flow Packets/s")]; got != 0 {
		t.Errorf("Infinity became %v", got)
	}
	if got := res.rows[9][s.Index("Flow Duration")]; got != -1 {
		t.Errorf("negative duration became %v", got)
	}
	if got := res.rows[0][s.Index("Init_Win_bytes_backward")]; got != -1 {
		t.Errorf("Init_Win_bytes_backward = %v", got)
	}
}

func TestTableMismatch(t *testing.T) {
	unsw := fitFile(t, "unsw-nb15", "testdata/unsw-train.csv")
	cic := fitFile(t, "cic-ids", "testdata/cic-sample.csv")
	nsl := fitFile(t, "nsl-kdd", "testdata/nslkdd-train-head200.txt")
	read := func(t *testing.T, e *Encoder, in string) error {
		tr, err := e.Open(strings.NewReader(in), "t.csv")
		if err != nil {
			return err
		}
		for {
			if _, _, err := tr.Next(nil); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	unswTest, _ := os.ReadFile("testdata/unsw-test.csv")
	cicData, _ := os.ReadFile("testdata/cic-sample.csv")
	for _, tc := range []struct {
		name string
		e    *Encoder
		in   string
		want string
	}{
		{"cic into unsw", unsw, string(cicData), `t.csv:1: column 1 is "Destination Port"; the encoder (fitted on the training table) expects "id"`},
		{"renamed column", unsw, strings.Replace(string(unswTest), "service", "servce", 1), `t.csv:1: column 4 is "servce"`},
		{"missing column", unsw, strings.Replace(string(unswTest), ",label\n", "\n", 1), `t.csv:1: 44 columns, the encoder expects 45: first missing column "label"`},
		{"unsw into nsl", nsl, string(unswTest), "t.csv:1: 45 fields, want 42 or 43"},
		{"unsw into cic", cic, string(unswTest), `t.csv:1: column 1 is "id"`},
		{"empty csv", unsw, "", "t.csv:1: empty file"},
		{"nsl bad number", nsl, "0,tcp,http,SF,1x,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0,0,0,0,1,0,0,150,25,0.17,0.03,0.17,0,0,0,0.05,0,normal,20\n", `t.csv:1: column "src_bytes": bad number "1x"`},
		{"nsl short row", nsl, strings.Repeat("0,", 30) + "normal\n", "t.csv:1: 31 fields"},
		{"nsl empty label", nsl, "0,tcp,http,SF" + strings.Repeat(",0", 37) + ",,20\n", "t.csv:1: empty label"},
		{"unsw bad label", unsw, strings.Replace(string(unswTest), "Normal,0\n", "Normal,2\n", 1), `t.csv:2: label "2" is not 0 or 1`},
		{"cic field count", cic, string(cicData[:bytes.IndexByte(cicData, '\n')+1]) + "80,1,2\n", "t.csv:2: 3 fields, the header has 79"},
		{"cic bad quote", cic, string(cicData[:bytes.IndexByte(cicData, '\n')+1]) + "80,\"1\n", "t.csv:2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := read(t, tc.e, tc.in)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant prefix %q", err, tc.want)
			}
		})
	}
}

func TestFitErrors(t *testing.T) {
	for _, tc := range []struct{ format, in, want string }{
		{"kdd", "", `unknown dataset format "kdd"`},
		{"unsw-nb15", "id,dur,proto\n1,2,tcp\n", `unsw-nb15 table: unsw-nb15 table has no "label" column`},
		{"cic-ids", " Flow Duration\n1\n", `cic-ids table: cic-ids table has no "Label" column`},
		{"nsl-kdd", "0,tcp\n", "nsl-kdd table:1: 2 fields"},
	} {
		_, err := FitEncoder(tc.format, strings.NewReader(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("FitEncoder(%s): %v; want prefix %q", tc.format, err, tc.want)
		}
	}
}

func TestParseDatasetArg(t *testing.T) {
	for _, tc := range []struct{ in, format, path string }{
		{"nsl-kdd:/data/KDDTest+.txt", "nsl-kdd", "/data/KDDTest+.txt"},
		{"unsw-nb15:a:b.csv", "unsw-nb15", "a:b.csv"},
		{"cic-ids:x.csv", "cic-ids", "x.csv"},
		{"nslkdd:/x", "", ""},
		{"nsl-kdd:", "", ""},
		{"/x.csv", "", ""},
	} {
		f, p, err := ParseDatasetArg(tc.in)
		if f != tc.format || p != tc.path || (err != nil) != (tc.format == "") {
			t.Errorf("ParseDatasetArg(%q) = %q, %q, %v", tc.in, f, p, err)
		}
	}
}
