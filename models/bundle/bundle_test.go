package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
)

var update = flag.Bool("update", false, "rewrite testdata/small.vgl")

var testSchema = features.Schema{
	Name:    "test",
	Version: 1,
	Features: []features.Feature{
		{Name: "pkts", Unit: "packets", Count: true},
		{Name: "bytes", Unit: "bytes", Count: true},
		{Name: "ratio", Unit: "1"},
		{Name: "dur", Unit: "s"},
	},
}

// baseline returns n rows of 4 features from a fixed seed.
func baseline(n int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 7))
	X := mat.NewDense(n, 4, nil)
	for i := range n {
		p := math.Floor(math.Exp(1 + rng.NormFloat64()))
		X.Set(i, 0, p)
		X.Set(i, 1, p*(60+40*rng.Float64()))
		X.Set(i, 2, 0.5+0.1*rng.NormFloat64())
		X.Set(i, 3, rng.ExpFloat64())
	}
	return X
}

// makeBundle fits a small bundle: scaler, and the models asked for, with
// thresholds calibrated on a held-out sample.
func makeBundle(tb testing.TB, withForest, withKMeans bool, trees int) *Bundle {
	tb.Helper()
	train, held := baseline(300, 1), baseline(200, 2)
	log1p := []bool{true, true, false, false}
	sc, err := scale.Fit(train, scale.Config{Method: scale.Robust, Log1p: log1p})
	if err != nil {
		tb.Fatal(err)
	}
	n, d := train.Dims()
	Z := mat.NewDense(n, d, nil)
	for i := range n {
		sc.TransformTo(Z.RawRowView(i), train.RawRowView(i))
	}
	b := &Bundle{
		Schema:    testSchema,
		Extractor: json.RawMessage(`{"idle_timeout":"60s"}`),
		Scaler:    sc,
		TargetFPR: 0.01,
		Meta: Meta{
			Inputs:       []Input{{Path: "baseline.pcap", Size: 1234, SHA256: strings.Repeat("ab", 32)}},
			Packets:      9000,
			Flows:        500,
			Rows:         300,
			HeldOut:      200,
			Seed:         42,
			Created:      time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
			VigilVersion: "test",
			Timings:      []Timing{{Stage: "fit", Seconds: 0.25}},
		},
	}
	if withForest {
		b.Forest, err = iforest.Fit(Z, iforest.Config{NEstimators: trees, MaxSamples: 32, Seed: 42, Workers: 1})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if withKMeans {
		b.KMeans, err = kmeans.Fit(Z, kmeans.Config{K: 3, Seed: 42, Workers: 1})
		if err != nil {
			tb.Fatal(err)
		}
	}
	calibrateHeld(b, held)
	return b
}

// calibrateHeld sets b's thresholds from raw held-out rows, as models
// documents: each model's is models.Calibrate of its held-out scores, the
// ensemble's models.Calibrate of the Ensemble scores under those.
func calibrateHeld(b *Bundle, held *mat.Dense) {
	n, d := held.Dims()
	var fs, ks []float64
	x := make([]float64, d)
	for i := range n {
		b.Scaler.TransformTo(x, held.RawRowView(i))
		if b.Forest != nil {
			fs = append(fs, b.Forest.Score(x))
		}
		if b.KMeans != nil {
			ks = append(ks, b.KMeans.Score(x))
		}
	}
	var th []float64
	if b.Forest != nil {
		b.Thresholds.IForest = models.Calibrate(fs, b.TargetFPR)
		th = append(th, b.Thresholds.IForest)
	}
	if b.KMeans != nil {
		b.Thresholds.KMeans = models.Calibrate(ks, b.TargetFPR)
		th = append(th, b.Thresholds.KMeans)
	}
	es := make([]float64, n)
	for i := range es {
		var s []float64
		if b.Forest != nil {
			s = append(s, fs[i])
		}
		if b.KMeans != nil {
			s = append(s, ks[i])
		}
		es[i] = models.Ensemble(s, th)
	}
	b.Thresholds.Ensemble = models.Calibrate(es, b.TargetFPR)
}

func probes() [][]float64 {
	X := baseline(50, 3)
	var out [][]float64
	for i := range 50 {
		out = append(out, X.RawRowView(i))
	}
	return append(out,
		[]float64{0, 0, 0, 0},
		[]float64{1e6, 1, 5, 1000},
		[]float64{math.NaN(), math.Inf(1), math.Inf(-1), -1},
	)
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		f, k bool
	}{{"both", true, true}, {"forest only", true, false}, {"kmeans only", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			b := makeBundle(t, c.f, c.k, 20)
			before := b.Hash()
			path := filepath.Join(t.TempDir(), "m.vgl")
			if err := Save(path, b, false); err != nil {
				t.Fatal(err)
			}
			if b.Hash() != before {
				t.Errorf("hash after save %s, before %s", b.Hash(), before)
			}
			l, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if l.Hash() != before {
				t.Errorf("loaded hash %s, saved %s", l.Hash(), before)
			}
			// The hash is the SHA-256 of the bytes after the header.
			raw, _ := os.ReadFile(path)
			if sum := sha256.Sum256(raw[HeaderLen:]); l.Hash() != hexs(sum[:]) {
				t.Errorf("Hash() %s is not the payload's SHA-256", l.Hash())
			}
			if l.Thresholds != b.Thresholds || l.TargetFPR != b.TargetFPR || !l.Meta.Created.Equal(b.Meta.Created) ||
				l.Meta.Seed != 42 || len(l.Meta.Inputs) != 1 || l.Meta.Timings[0] != b.Meta.Timings[0] ||
				string(l.Extractor) != string(b.Extractor) {
				t.Errorf("metadata changed in round trip: %+v", l)
			}
			if err := l.CheckSchema(&testSchema); err != nil {
				t.Error(err)
			}
			s1, s2 := b.NewScorer(), l.NewScorer()
			for _, x := range probes() {
				a, c := s1.Score(x), s2.Score(x)
				if a != c {
					t.Fatalf("scores %+v after load, %+v before", c, a)
				}
				for _, v := range []float64{a.IForest, a.KMeans, a.Ensemble} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("score %v for %v", v, x)
					}
				}
				if (a.IForest != 0) != (b.Forest != nil) || (a.KMeans != 0) != (b.KMeans != nil) {
					t.Fatalf("absent model scored or present model scored 0: %+v", a)
				}
			}
			// Read from a stream gives the same bundle.
			r, err := Read(bytes.NewReader(raw))
			if err != nil || r.Hash() != before {
				t.Fatalf("Read: %v, hash %s", err, r.Hash())
			}
		})
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

// frame builds a file around a JSON document, with a correct checksum, so
// that tests and the fuzzer reach the checks behind it.
func frame(js []byte, version, flags uint16) []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(js)
	zw.Close()
	return frameRaw(z.Bytes(), version, flags)
}

func frameRaw(payload []byte, version, flags uint16) []byte {
	h := header(len(payload), sha256.Sum256(payload))
	binary.LittleEndian.PutUint16(h[8:], version)
	binary.LittleEndian.PutUint16(h[10:], flags)
	return append(h[:], payload...)
}

func goodJSON(t *testing.T) map[string]any {
	t.Helper()
	b := makeBundle(t, true, true, 5)
	p, err := b.encode()
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(p))
	var m map[string]any
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadErrors(t *testing.T) {
	b := makeBundle(t, true, true, 5)
	var good bytes.Buffer
	p, _ := b.encode()
	good.Write(frameRaw(p, Version, flagGzip))
	file := good.Bytes()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(file)) }
	doc := func(edit func(m map[string]any)) []byte {
		m := goodJSON(t)
		edit(m)
		js, _ := json.Marshal(m)
		return frame(js, Version, flagGzip)
	}
	bomb := func() []byte {
		// A valid JSON prefix followed by 8 MiB of one byte: expands far
		// beyond 4 MiB + 64 × its compressed size.
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write([]byte(`{"schema":{"name":"`))
		zw.Write(bytes.Repeat([]byte("a"), 8<<20))
		zw.Close()
		return frameRaw(z.Bytes(), Version, flagGzip)
	}
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotModel, "not a vigil model"},
		{"foreign", []byte("PK\x03\x04 this is a zip file, not a model at all......"), ErrNotModel, "not a vigil model"},
		{"text", []byte("hello"), ErrNotModel, ""},
		{"magic prefix only", []byte("VIGIL"), ErrTruncated, ""},
		{"header cut", file[:30], ErrTruncated, "header"},
		{"payload cut", file[:len(file)-10], ErrTruncated, "payload"},
		{"header only", file[:HeaderLen], ErrTruncated, ""},
		{"trailing bytes", append(bytes.Clone(file), 0), ErrCorrupt, "after the payload"},
		{"flipped payload byte", mod(func(b []byte) []byte { b[HeaderLen+len(p)/2] ^= 1; return b }), ErrChecksum, "checksum"},
		{"flipped checksum byte", mod(func(b []byte) []byte { b[25] ^= 0x80; return b }), ErrChecksum, ""},
		{"wrong magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrNotModel, ""},
		{"newer version", mod(func(b []byte) []byte { b[8] = 2; return b }), ErrNewer, "format v2), this build reads ≤ v1"},
		{"version 0", mod(func(b []byte) []byte { b[8] = 0; return b }), ErrCorrupt, "version 0"},
		{"unknown flag", mod(func(b []byte) []byte { b[10] |= 2; return b }), ErrCorrupt, "flags"},
		{"not gzip flag", mod(func(b []byte) []byte { b[10] = 0; return b }), ErrCorrupt, "flags"},
		{"oversized length", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[12:], 1<<62); return b }), ErrTooLarge, "at most"},
		{"length beyond file", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[12:], 100<<20); return b }), ErrTruncated, "file has"},
		{"gzip bomb", bomb(), ErrTooLarge, "expands beyond"},
		{"not gzip", frameRaw([]byte("plain text, not gzip"), Version, flagGzip), ErrCorrupt, "gzip"},
		{"bad json", frame([]byte(`{"schema":`), Version, flagGzip), ErrCorrupt, "json"},
		{"two documents", frame([]byte(`{} {}`), Version, flagGzip), ErrCorrupt, "after the bundle"},
		{"unknown field", doc(func(m map[string]any) { m["surprise"] = 1 }), ErrCorrupt, "unknown field"},
		{"schema hash", doc(func(m map[string]any) { m["schema_hash"] = "00" }), ErrCorrupt, "schema hash 00 recorded"},
		{"schema edited", doc(func(m map[string]any) {
			m["schema"].(map[string]any)["version"] = 2
		}), ErrCorrupt, "recomputed"},
		{"no scaler", doc(func(m map[string]any) { delete(m, "scaler") }), ErrCorrupt, "no scaler"},
		{"no model", doc(func(m map[string]any) { delete(m, "iforest"); delete(m, "kmeans") }), ErrCorrupt, "no model"},
		{"zero threshold", doc(func(m map[string]any) { m["thresholds"].(map[string]any)["kmeans"] = 0 }), ErrCorrupt, "threshold kmeans"},
		{"absent model threshold", doc(func(m map[string]any) { delete(m, "kmeans") }), ErrCorrupt, "absent model"},
		{"huge threshold", doc(func(m map[string]any) { m["thresholds"].(map[string]any)["ensemble"] = json.Number("1e999") }), ErrCorrupt, "json"},
		{"target fpr", doc(func(m map[string]any) { m["target_fpr"] = 1 }), ErrCorrupt, "target_fpr"},
		{"scaler dims", doc(func(m map[string]any) {
			s := m["scaler"].(map[string]any)
			for _, k := range []string{"center", "scale", "median", "min", "max", "lo", "hi", "log1p"} {
				s[k] = s[k].([]any)[:3]
			}
		}), ErrCorrupt, "scaler has 3 features, schema 4"},
		{"duplicate feature", doc(func(m map[string]any) {
			fs := m["schema"].(map[string]any)["features"].([]any)
			fs[1].(map[string]any)["name"] = "pkts"
		}), ErrCorrupt, "duplicate"},
		{"no features", doc(func(m map[string]any) { m["schema"].(map[string]any)["features"] = []any{} }), ErrCorrupt, "0 features"},
		{"kmeans invalid", doc(func(m map[string]any) { m["kmeans"].(map[string]any)["k"] = 1000 }), ErrCorrupt, ""},
		{"forest invalid", doc(func(m map[string]any) { m["iforest"].(map[string]any)["trees"] = []any{} }), ErrCorrupt, ""},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load: %v, want %v containing %q", err, tt.want, tt.msg)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("Load error does not name the file: %v", err)
			}
			// Read (size unknown) must fail the same way, except where only
			// the file size tells (trailing bytes: Read stops at the payload).
			_, rerr := Read(bytes.NewReader(tt.data))
			if tt.name == "trailing bytes" {
				if rerr != nil {
					t.Errorf("Read: %v", rerr)
				}
			} else if !errors.Is(rerr, tt.want) {
				t.Errorf("Read: %v, want %v", rerr, tt.want)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotModel) {
		t.Fatalf("directory: err = %v, want ErrNotModel", err)
	}
}

func TestSaveExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.vgl")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := makeBundle(t, true, false, 5)
	err := Save(path, b, false)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over existing: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "precious" {
		t.Fatalf("existing file changed to %q", got)
	}
	if err := Save(path, b, true); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode())
	}
	assertOnly(t, dir, "m.vgl")
}

// assertOnly fails unless dir holds exactly the named files.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}

func TestSaveFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	good := makeBundle(t, true, true, 5)
	noScaler := *good
	noScaler.Scaler = nil
	nanMeta := *good
	nanMeta.Meta.Timings = []Timing{{Stage: "x", Seconds: math.NaN()}}
	badTh := *good
	badTh.Thresholds.Ensemble = math.Inf(1)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		b         *Bundle
		path      string
		overwrite bool
		want      string
	}{
		{"invalid bundle", &noScaler, "a.vgl", false, "no scaler"},
		{"unencodable", &nanMeta, "b.vgl", false, "unsupported value"},
		{"infinite threshold", &badTh, "c.vgl", false, "threshold ensemble"},
		{"rename onto a directory", good, "sub", true, "sub"},
		{"onto a directory without overwrite", good, "sub", false, "not a regular file"},
		{"missing directory", good, "nodir/m.vgl", false, "no such file"},
	}
	for _, tt := range tests {
		err := Save(filepath.Join(dir, tt.path), tt.b, tt.overwrite)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	assertOnly(t, dir, "sub")
}

func TestCheckSchema(t *testing.T) {
	b := makeBundle(t, false, true, 0)
	other := testSchema
	other.Features = append([]features.Feature(nil), testSchema.Features...)
	other.Features[3].Unit = "ms"
	err := b.CheckSchema(&other)
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("err = %v, want ErrSchema", err)
	}
	for _, h := range []string{testSchema.Hash(), other.Hash()} {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("error does not name hash %s: %v", h, err)
		}
	}
	// Descriptions are not part of the hash.
	same := testSchema
	same.Features = append([]features.Feature(nil), testSchema.Features...)
	same.Features[0].Description = "reworded"
	if err := b.CheckSchema(&same); err != nil {
		t.Error(err)
	}
}

func TestScorerExplain(t *testing.T) {
	for _, c := range []struct {
		name string
		f, k bool
	}{{"both", true, true}, {"forest", true, false}, {"kmeans", false, true}} {
		b := makeBundle(t, c.f, c.k, 50)
		s := b.NewScorer()
		// Baseline-like except a ratio (feature 2) far outside its range.
		x := []float64{3, 240, 9, 1}
		normal := []float64{3, 240, 0.5, 1}
		if sc, sn := s.Score(x), s.Score(normal); sc.Ensemble <= sn.Ensemble {
			t.Fatalf("%s: anomalous vector scored %+v, ordinary one %+v", c.name, sc, sn)
		}
		dst := make([]models.Contribution, 0, 3)
		dst = s.Explain(dst, x, 3)
		if len(dst) == 0 || dst[0].Name != "ratio" || dst[0].Value != 9 ||
			dst[0].Lo != b.Scaler.Lo[2] || dst[0].Hi != b.Scaler.Hi[2] || !(dst[0].Share > 0.3) {
			t.Fatalf("%s: explanation %+v, want ratio first", c.name, dst)
		}
		// Non-finite inputs show as their replacements.
		y := []float64{math.NaN(), 240, 9, math.Inf(1)}
		for _, e := range s.Explain(dst, y, 4) {
			if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
				t.Fatalf("%s: non-finite value in explanation %+v", c.name, e)
			}
		}
		if n := testing.AllocsPerRun(50, func() { s.Score(x) }); n != 0 {
			t.Errorf("%s: Score allocates %v times", c.name, n)
		}
		if n := testing.AllocsPerRun(50, func() { dst = s.Explain(dst, x, 3) }); n != 0 {
			t.Errorf("%s: Explain allocates %v times", c.name, n)
		}
	}
}

func TestTestdataLoads(t *testing.T) {
	path := filepath.Join("testdata", "small.vgl")
	if *update {
		os.Remove(path)
		if err := Save(path, makeBundle(t, true, true, 5), false); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Forest == nil || b.KMeans == nil || b.Meta.VigilVersion != "test" {
		t.Fatalf("testdata bundle: %+v", b)
	}
}

func BenchmarkScore(b *testing.B) {
	bd := makeBundle(b, true, true, 100)
	s := bd.NewScorer()
	xs := probes()
	b.ReportAllocs()
	var sum float64
	i := 0
	for b.Loop() {
		sum += s.Score(xs[i%len(xs)]).Ensemble
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if math.IsNaN(sum) || sum <= 0 {
		b.Fatalf("ensemble sum %v", sum)
	}
}

// TestConcurrentScorers shares one loaded bundle between goroutines, one
// Scorer each, and checks every goroutine gets the single-threaded scores
// (run with -race).
func TestConcurrentScorers(t *testing.T) {
	b := makeBundle(t, true, true, 20)
	xs := probes()
	want := make([]Scores, len(xs))
	s := b.NewScorer()
	for i, x := range xs {
		want[i] = s.Score(x)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s := b.NewScorer()
			dst := make([]models.Contribution, 0, 5)
			for range 20 {
				for i, x := range xs {
					if got := s.Score(x); got != want[i] {
						errs <- fmt.Errorf("vector %d: %+v, want %+v", i, got, want[i])
						return
					}
					dst = s.Explain(dst, x, 5)
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestExplainScored: explaining the last scored vector without scoring it
// again gives exactly Explain's answer, for every model mix and for
// ordinary, extreme and non-finite vectors.
func TestExplainScored(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name string
		f, k bool
	}{{"both", true, true}, {"forest", true, false}, {"kmeans", false, true}} {
		b := makeBundle(t, c.f, c.k, 50)
		s, ref := b.NewScorer(), b.NewScorer()
		var got, want []models.Contribution
		for i := range 300 {
			x := []float64{rng.Float64() * 10, 200 + rng.Float64()*80, rng.Float64() * 20, rng.Float64() * 3}
			switch i % 10 {
			case 7:
				x[i%4] = math.NaN()
			case 8:
				x[(i+1)%4] = math.Inf(1)
			case 9:
				x[2] = 1e300
			}
			sc := s.Score(x)
			got = s.ExplainScored(got, x, sc, 3)
			want = ref.Explain(want, x, 3)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: vector %v: ExplainScored %+v, Explain %+v", c.name, x, got, want)
			}
		}
		x := []float64{3, 240, 9, 1}
		sc := s.Score(x)
		if n := testing.AllocsPerRun(50, func() { got = s.ExplainScored(got, x, sc, 3) }); n != 0 {
			t.Errorf("%s: ExplainScored allocates %v times", c.name, n)
		}
	}
}

// TestScoreBatchMatchesScore pins the batch paths (ScoreBatch, ScoreRows)
// to the single-row one:
// for batch sizes around the forest's 8- and 4-row walks and its 64-row
// block, every row's Scores equal Score's bit for bit and ExplainRow
// equals Explain, including rows with NaN, ±Inf and huge values.
func TestScoreBatchMatchesScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bits := func(s Scores) [3]uint64 {
		return [3]uint64{math.Float64bits(s.IForest), math.Float64bits(s.KMeans), math.Float64bits(s.Ensemble)}
	}
	for _, c := range []struct {
		name string
		f, k bool
	}{{"both", true, true}, {"forest", true, false}, {"kmeans", false, true}} {
		b := makeBundle(t, c.f, c.k, 50)
		s, ref := b.NewScorer(), b.NewScorer()
		var out []Scores
		var got, want []models.Contribution
		for _, n := range []int{1, 0, 3, 8, 9, 64, 65, 200, 7} {
			raw := make([]float64, 0, 4*n)
			for i := range n {
				x := []float64{rng.Float64() * 10, 200 + rng.Float64()*80, rng.Float64() * 20, rng.Float64() * 3}
				switch i % 10 {
				case 6:
					x[2] = -1e300
				case 7:
					x[i%4] = math.NaN()
				case 8:
					x[(i+1)%4] = math.Inf(1)
				case 9:
					x[2] = 1e300
				}
				raw = append(raw, x...)
			}
			out = s.ScoreBatch(out, raw)
			if len(out) != n {
				t.Fatalf("%s: %d rows scored, want %d", c.name, len(out), n)
			}
			for i := range n {
				x := raw[i*4 : (i+1)*4]
				w := ref.Score(x)
				if bits(out[i]) != bits(w) {
					t.Fatalf("%s: batch of %d, row %d %v: ScoreBatch %+v, Score %+v", c.name, n, i, x, out[i], w)
				}
				got = s.ExplainRow(got, i, x, out[i], 3)
				want = ref.Explain(want, x, 3)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: batch of %d, row %d: ExplainRow %+v, Explain %+v", c.name, n, i, got, want)
				}
			}
			// ScoreRows: the same vectors, each its own slice, in reverse.
			rows := make([][]float64, n)
			for i := range n {
				rows[n-1-i] = slices.Clone(raw[i*4 : (i+1)*4])
			}
			out = s.ScoreRows(out, rows)
			for i, x := range rows {
				w := ref.Score(x)
				if bits(out[i]) != bits(w) {
					t.Fatalf("%s: %d rows, row %d %v: ScoreRows %+v, Score %+v", c.name, n, i, x, out[i], w)
				}
				got = s.ExplainRow(got, i, x, out[i], 3)
				want = ref.Explain(want, x, 3)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: %d rows, row %d: ExplainRow after ScoreRows %+v, Explain %+v", c.name, n, i, got, want)
				}
			}
		}
		raw := []float64{3, 240, 9, 1, 3, 240, 0.5, 1}
		out = s.ScoreBatch(out, raw)
		if a := testing.AllocsPerRun(50, func() { out = s.ScoreBatch(out, raw) }); a != 0 {
			t.Errorf("%s: ScoreBatch allocates %v times", c.name, a)
		}
		if a := testing.AllocsPerRun(50, func() { got = s.ExplainRow(got, 1, raw[4:], out[1], 3) }); a != 0 {
			t.Errorf("%s: ExplainRow allocates %v times", c.name, a)
		}
	}
}

// TestSaveRefusesNonRegular: Save never renames over a FIFO or a directory
// (as root it would replace /dev/null itself), with or without overwrite.
func TestSaveRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	b := makeBundle(t, true, false, 5)
	for _, path := range []string{fifo, sub} {
		for _, overwrite := range []bool{false, true} {
			err := Save(path, b, overwrite)
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Save(%s, overwrite %v): %v", path, overwrite, err)
			}
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	assertOnly(t, dir, "pipe", "sub")
}
