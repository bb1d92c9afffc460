package evaluate

import (
	"math/rand/v2"
	"testing"
)

func benchInput(n int) Input {
	rng := rand.New(rand.NewPCG(5, 6))
	labels := []string{"portscan", "synflood", "ssh", "dns_exfil", "beacon"}
	in := Input{Models: []string{"iforest", "kmeans", "ensemble"}, Thresholds: []float64{0.6, 3, 0.7}}
	in.Samples = make([]Sample, n)
	scores := make([]float64, 3*n)
	for i := range in.Samples {
		l, shift := Benign, 0.0
		if rng.IntN(10) == 0 {
			l, shift = labels[rng.IntN(len(labels))], 1
		}
		s := scores[3*i : 3*i+3 : 3*i+3]
		s[0] = 0.5 + 0.05*rng.NormFloat64() + 0.1*shift
		s[1] = float64(int((2+rng.ExpFloat64()+shift)*100)) / 100 // ties
		s[2] = (s[0] + s[1]/5) / 2
		in.Samples[i] = Sample{Label: l, Scores: s}
	}
	return in
}

// BenchmarkEvaluate: three models over n samples.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(sizeName(n), func(b *testing.B) {
			in := benchInput(n)
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				r, err := Evaluate(in)
				if err != nil {
					b.Fatal(err)
				}
				if a := r.Models["iforest"].ROCAUC; a == nil || *a < 0.8 || *a > 0.999 {
					b.Fatalf("implausible roc_auc %v", fmtNum(a, 4))
				}
				if len(r.curves["kmeans"].roc) > maxPlotPoints {
					b.Fatal("curve not downsampled")
				}
				rows += n
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWriteDir: rendering the plots and tables of a 3-model report.
func BenchmarkWriteDir(b *testing.B) {
	r, err := Evaluate(benchInput(100_000))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.WriteDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000:
		return itoa(n/1_000_000) + "M"
	case n >= 1000:
		return itoa(n/1000) + "k"
	}
	return itoa(n)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
