package bundle

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"os"
	"testing"

	"github.com/vigil-nids/vigil/models"
)

func readSmall(f *testing.F) []byte {
	b, err := os.ReadFile("testdata/small.vgl")
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// checkLoaded is the property every bundle that loads must have: it scores
// a zero vector (and an extreme one) to finite numbers and explains
// without panicking.
func checkLoaded(t *testing.T, b *Bundle) {
	s := b.NewScorer()
	d := b.Schema.Len()
	for _, fill := range []float64{0, math.Inf(1), -1e300, math.NaN()} {
		x := make([]float64, d)
		for i := range x {
			x[i] = fill
		}
		sc := s.Score(x)
		for _, v := range []float64{sc.IForest, sc.KMeans, sc.Ensemble} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("score %+v for a vector of %v", sc, fill)
			}
		}
		for _, c := range s.Explain(make([]models.Contribution, 0, 5), x, 5) {
			if math.IsNaN(c.Share) || math.IsNaN(c.Value) {
				t.Fatalf("explanation %+v", c)
			}
		}
	}
}

// FuzzLoad feeds whole files to Read. The checksum stops most mutations
// early; FuzzPayload reaches the decoder.
func FuzzLoad(f *testing.F) {
	good := readSmall(f)
	f.Add(good)
	f.Add(good[:HeaderLen])
	f.Add([]byte(Magic))
	cut := bytes.Clone(good)
	cut[12] = 0xff
	f.Add(cut)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkLoaded(t, b)
	})
}

// FuzzPayload fuzzes the JSON document, framing each input into a file
// with a correct header and checksum.
func FuzzPayload(f *testing.F) {
	good := readSmall(f)
	zr, err := gzip.NewReader(bytes.NewReader(good[HeaderLen:]))
	if err != nil {
		f.Fatal(err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema":{"name":"x","version":1,"features":[{"name":"a"}]}}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		b, err := Read(bytes.NewReader(frame(js, Version, flagGzip)))
		if err != nil {
			return
		}
		checkLoaded(t, b)
	})
}
