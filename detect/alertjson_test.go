package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

// randomAlert builds an alert exercising every optional field, odd
// strings (escapes, HTML characters, invalid UTF-8, U+2028) and odd
// floats (NaN, ±Inf, tiny, huge, negative zero).
func randomAlert(rng *rand.Rand) *Alert {
	strs := []string{"", "anomaly", "TCP", "1:abc+/=", "syn_ratio", "a\"b\\c", "<script>&", "tab\there\n",
		"\x00\x1f\x7f", "ünï", "\xff\xfe", "line\u2028sep\u2029", "é\u00e9"}
	floats := []float64{0, 1, -1, 0.1, 1e-7, 1e21, 1e20, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}
	str := func() string { return strs[rng.IntN(len(strs))] }
	flt := func() Float {
		if rng.IntN(3) == 0 {
			return Float(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)))
		}
		return Float(floats[rng.IntN(len(floats))])
	}
	addrs := []netip.Addr{{}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("fe80::1%eth<0>")}
	ts := func() Time { return Time(rng.Int64N(4e18) - 1e18) }
	a := &Alert{
		Timestamp: ts(), EventType: str(), FlowID: rng.Uint64() >> rng.IntN(64),
		SrcIP: addrs[rng.IntN(len(addrs))], DestIP: addrs[rng.IntN(len(addrs))], Proto: str(),
		Flow: AlertFlow{PktsToServer: rng.Uint64(), PktsToClient: rng.Uint64N(10), BytesToServer: rng.Uint64() >> 20,
			BytesToClient: 0, Start: ts(), End: ts(), Reason: str(), Seq: rng.Uint32()},
		CommunityID: str(), Score: flt(), Scores: ModelScores{flt(), flt()}, Threshold: flt(),
		Thresholds: ModelScores{flt(), flt()}, Model: str(), Final: rng.IntN(2) == 0,
	}
	if rng.IntN(2) == 0 {
		sp, dp := uint16(rng.Uint32()), uint16(rng.IntN(2))
		a.SrcPort, a.DestPort = &sp, &dp
	} else {
		ty, co := uint8(rng.Uint32()), uint8(0)
		a.ICMPType, a.ICMPCode = &ty, &co
	}
	switch rng.IntN(3) {
	case 0:
		a.VLAN = []uint16{uint16(rng.Uint32())}
	case 1:
		a.VLAN = []uint16{} // empty: omitted like nil
	}
	if n := rng.IntN(7); n > 0 || rng.IntN(2) == 0 {
		a.TopFeatures = make([]TopFeature, n) // n = 0: an empty, non-nil list
		for i := range a.TopFeatures {
			a.TopFeatures[i] = TopFeature{Name: str(), Value: flt(), Baseline: [2]Float{flt(), flt()}, Share: flt()}
		}
	}
	switch rng.IntN(4) {
	case 0:
		a.Related = make([]RelatedFlow, 1+rng.IntN(3))
		for i := range a.Related {
			a.Related[i] = RelatedFlow{SrcPort: uint16(rng.Uint32()), Start: ts(), CommunityID: str()}
		}
	case 1:
		a.Related = []RelatedFlow{} // empty: omitted like nil
	}
	if rng.IntN(3) == 0 {
		a.TLS = &AlertTLS{JA4: str()}
	}
	a.Username = str()
	return a
}

// TestAppendJSONMatchesMarshal: the hand-written encoder writes exactly
// encoding/json's bytes (Alert has no MarshalJSON, so json.Marshal is the
// reflective encoder driven by the struct tags).
func TestAppendJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	fc := new(floatCache) // shared across alerts, as a sink's is
	tc := new(topCache)
	var prevTop []TopFeature
	for i := range 20000 {
		a := randomAlert(rng)
		if i%3 == 0 && prevTop != nil {
			a.TopFeatures = prevTop // shared, as the alerts of one vector share it
		}
		prevTop = a.TopFeatures
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		buf = a.AppendJSON(buf[:0])
		if !bytes.Equal(buf, want) {
			t.Fatalf("alert %d:\nAppendJSON %s\nMarshal    %s", i, buf, want)
		}
		buf = a.appendJSON(buf[:0], fc, tc)
		if !bytes.Equal(buf, want) {
			t.Fatalf("alert %d, float and top caches:\nappendJSON %s\nMarshal    %s", i, buf, want)
		}
	}
	// Real alerts, as the pipeline builds them, with a prefix kept.
	top := []models.Contribution{{Name: "syn_ratio", Value: 1, Lo: 0, Hi: math.Inf(1), Share: 0.75}}
	beacon := testJob(6, 40000, 8000, 0)
	beacon.related = []features.FlowID{beacon.id, beacon.id}
	beacon.related[0].Start -= 10e9
	beacon.related[0].Sport, beacon.related[1].Sport = 39990, 39995
	beacon.related[1].Start -= 5e9
	beacon.ja4, beacon.user = "t13d1516h2_8daaf6152771_d8a2da3f94cd", "alice"
	for _, j := range []*job{testJob(6, 40000, 80, 0), testJob(1, 0x0803, 0, 12), testJob(17, 53, 5353, 0), beacon} {
		a := newAlert(j, Scores{IForest: 0.7, KMeans: 3, Ensemble: 1.4}, Thresholds{0.5, 4, 1}, "h1", top)
		want, _ := json.Marshal(a)
		if got := a.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("AppendJSON %s\nMarshal     %s", got, want)
		}
	}
}

// TestTimeJSON: the hand-written timestamp equals time.AppendFormat's, on
// edges (epoch, leap days, century rules, year bounds, negative times)
// and random instants over the whole int64 range.
func TestTimeJSON(t *testing.T) {
	ts := []Time{0, -1, 1, 999, 1000, -1000, -1001, math.MaxInt64, math.MinInt64,
		Time(time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.UTC).UnixNano()),
		Time(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()),
		Time(time.Date(2100, 2, 28, 12, 0, 0, 1000, time.UTC).UnixNano()),
		Time(time.Date(1969, 12, 31, 23, 59, 59, 999999, time.UTC).UnixNano()),
		Time(time.Date(2026, 11, 26, 10, 0, 5, 123456789, time.UTC).UnixNano()),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		ts = append(ts, Time(rng.Uint64()), Time(rng.Int64N(2e18)))
	}
	for _, v := range ts {
		want, _ := json.Marshal(v.Time().Format(RFC3339Micro))
		if got := v.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("%d: %s, want %s", int64(v), got, want)
		}
	}
}

func TestAppendJSONNoAllocs(t *testing.T) {
	top := []models.Contribution{{Name: "syn_ratio", Value: 1, Lo: 0, Hi: math.Inf(1), Share: 0.75},
		{Name: "dst_host_count", Value: 20000, Lo: 1, Hi: 3, Share: 0.25}}
	a := newAlert(testJob(6, 40000, 80, 7), Scores{IForest: 0.7, KMeans: 3, Ensemble: 1.4}, Thresholds{0.5, 4, 1}, "h1", top)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = a.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per alert", n)
	}
	fc, tc := new(floatCache), new(topCache)
	if n := testing.AllocsPerRun(100, func() { buf = a.appendJSON(buf[:0], fc, tc) }); n != 0 {
		t.Errorf("appendJSON with float and top caches allocates %v times per alert", n)
	}
}

// FuzzAppendJSON compares the encoder with encoding/json on arbitrary
// strings and floats.
func FuzzAppendJSON(f *testing.F) {
	f.Add("syn_ratio", "1:abc=", "a<b>&\"\\\n", 1.5, math.Inf(1))
	f.Add("\xff", "\u2028", "", math.NaN(), math.Copysign(0, -1)) // a real negative zero
	f.Fuzz(func(t *testing.T, name, community, model string, v, s float64) {
		id := features.FlowID{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 6}
		j := &job{id: id, community: community, final: true}
		top := []models.Contribution{{Name: name, Value: v, Lo: s, Hi: v, Share: s}}
		a := newAlert(j, Scores{IForest: v, KMeans: s, Ensemble: v}, Thresholds{s, v, s}, model, top)
		a.Flow.Reason = name
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON %s\nMarshal    %s", got, want)
		}
	})
}

// TestFloatJSONMatchesStrconv: Float's encoding is strconv's shortest 'g'
// form for every kind of value an alert holds (shares and scores in
// (0, 1], counts, rates, tiny and huge magnitudes, integers on both sides
// of 1e6 where 'g' switches to an exponent, random bit patterns).
func TestFloatJSONMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vs := []float64{0, math.Copysign(0, -1), 1, -1, 9, 10, 999999, 1e6, -1e6, 1e6 + 1, 1234567, 1e15, 1e21, 1e-5, 1e-4,
		0.1, 0.2, 0.3, 1.0 / 3, 123456.5, 999999.5, math.MaxFloat64, math.SmallestNonzeroFloat64, 4e-06, 2.5e-07}
	for range 200000 {
		switch r.IntN(5) {
		case 0:
			vs = append(vs, r.Float64())
		case 1:
			vs = append(vs, float64(r.IntN(3_000_000)-1_000_000))
		case 2:
			vs = append(vs, math.Round(r.Float64()*1e6)/math.Pow(10, float64(r.IntN(12))))
		case 3:
			vs = append(vs, r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)))
		default:
			if v := math.Float64frombits(r.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, v)
			}
		}
	}
	for _, v := range vs {
		want := strconv.FormatFloat(v, 'g', -1, 64)
		if got := string(Float(v).appendJSON(nil)); got != want {
			t.Fatalf("Float(%v): %s, want %s", v, got, want)
		}
		if got := string(Float(v).appendQuot(nil)); got != want {
			t.Fatalf("Float(%v).appendQuot: %s, want %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(Float(v).appendQuot(nil)); got != "null" {
			t.Fatalf("Float(%v).appendQuot: %s, want null", v, got)
		}
	}
}

// TestPlainJSON holds the word-at-a-time plainJSON to a byte loop, for
// strings and byte slices, over every byte value at every position of
// strings around the 8-byte word size.
func TestPlainJSON(t *testing.T) {
	ref := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
		return true
	}
	const plain = "aZ09_-:.+/=~!aZ09_-:.+/=~!"
	for n := range 20 {
		base := []byte(plain[:n])
		if !plainJSON(string(base)) || !plainJSON(base) {
			t.Fatalf("%q: not plain", base)
		}
		for i := range n {
			for c := range 256 {
				b := bytes.Clone(base)
				b[i] = byte(c)
				want := ref(b)
				if got := plainJSON(string(b)); got != want {
					t.Fatalf("string %q: plainJSON %v, want %v", b, got, want)
				}
				if got := plainJSON(b); got != want {
					t.Fatalf("[]byte %q: plainJSON %v, want %v", b, got, want)
				}
			}
		}
	}
}

func BenchmarkPlainJSON(b *testing.B) {
	s := "49acb74d824737f3b308c3d8f6c943519055c3a22fa86bef97e52227c5c443ff" // a model hash
	b.ReportAllocs()
	for b.Loop() {
		if !plainJSON(s) {
			b.Fatal("hash not plain")
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(s))/b.Elapsed().Seconds()/1e9, "GB/s")
}

// TestTopCache: an alert sharing an earlier one's TopFeatures slice gets
// that slice's remembered encoding; an equal slice elsewhere in memory,
// or a shorter view of the same array, is encoded anew. Every encoding
// equals encoding/json's.
func TestTopCache(t *testing.T) {
	shared := topFeatures([]models.Contribution{{Name: "src_conns_60s", Value: 1000, Hi: 3, Share: 0.6},
		{Name: "tcp_reset", Value: 1, Share: 0.4}})
	twin := append([]TopFeature(nil), shared...)
	twin[1].Share = 0.25 // same address class, other content: must not be taken for shared
	tc := new(topCache)
	for i, top := range [][]TopFeature{shared, shared, twin, shared[:1], shared, nil, {}} {
		a := newAlertShared(new(alertBox), testJob(6, 40000, 80, 0), Scores{IForest: 0.7, KMeans: 3, Ensemble: 1.4}, Thresholds{0.5, 4, 1}, "h1", top)
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil, nil, tc); !bytes.Equal(got, want) {
			t.Fatalf("alert %d:\nappendJSON %s\nMarshal    %s", i, got, want)
		}
	}
	hit := 0
	for _, e := range tc {
		if len(e.top) > 0 && unsafe.SliceData(e.top) == unsafe.SliceData(shared) && len(e.top) == len(shared) {
			hit++
		}
	}
	if hit != 1 {
		t.Fatalf("the shared slice is remembered %d times, want once", hit)
	}
}

// BenchmarkAlertJSONLab encodes the alerts of the lab capture (real
// scores, shares, feature values and baselines, so the float cache sees
// a realistic mix) with a JSONLines sink.
func BenchmarkAlertJSONLab(b *testing.B) {
	bun := trainLab(b)
	ecfg, _ := ExtractorConfig(bun)
	src, err := capture.Open([]string{labMixed}, capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var mem Memory
	if _, err := New(FromBundle(bun), Config{Block: true, Extractor: ecfg}).Run(context.Background(), src, &mem); err != nil {
		b.Fatal(err)
	}
	alerts := mem.Alerts()
	if len(alerts) < 100 {
		b.Fatalf("only %d alerts", len(alerts))
	}
	var cw countWriter
	s := NewJSONLines(&cw)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, a := range alerts {
			if err := s.Send(a); err != nil {
				b.Fatal(err)
			}
		}
		n += len(alerts)
	}
	s.Close()
	if cw.n < int64(n)*100 {
		b.Fatalf("%d bytes for %d alerts", cw.n, n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
