package iforest

import (
	"testing"
)

// BenchmarkForestScore: 100 trees on ψ = 256 of 20 uniform features,
// scoring 1e5 uniform rows with ScoreBatch on all cores (the figure to
// compare with scikit-learn's score_samples, ~29k rows/s on the reference
// machine), and with Score on one core.
func BenchmarkForestScore(b *testing.B) {
	f := mustFit(b, uniform(10000, 20, 1), Config{Seed: 1})
	Q := uniform(100000, 20, 2)
	check := func(dst []float64) {
		var sum float64
		for _, s := range dst {
			if !(s > 0 && s < 1) {
				b.Fatalf("score %v out of (0, 1)", s)
			}
			sum += s
		}
		// Uniform data scored by a forest grown on the same distribution
		// averages a little below 0.5 (sklearn: about 0.44 on 1e6×20).
		if mean := sum / float64(len(dst)); mean < 0.35 || mean > 0.55 {
			b.Fatalf("mean score %v", mean)
		}
	}
	b.Run("batch", func(b *testing.B) {
		dst := make([]float64, 100000)
		b.ReportAllocs()
		n := 0
		cpu0 := processCPU()
		for b.Loop() {
			dst = f.ScoreBatch(dst, Q, 0)
			n += len(dst)
		}
		reportCPU(b, n, processCPU()-cpu0)
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		check(dst)
	})
	b.Run("single", func(b *testing.B) {
		dst := make([]float64, 100000)
		b.ReportAllocs()
		n := 0
		cpu0 := processCPU()
		for b.Loop() {
			for i := range dst {
				dst[i] = f.Score(Q.RawRowView(i))
			}
			n += len(dst)
		}
		reportCPU(b, n, processCPU()-cpu0)
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		check(dst)
	})
}

// reportCPU reports rows per CPU-second (summed over all threads): on a
// shared machine the wall-clock rows/s says more about the neighbours.
func reportCPU(b *testing.B, rows int, cpu float64) {
	if cpu > 0 {
		b.ReportMetric(float64(rows)/cpu, "rows/cpu-s")
	}
}

// BenchmarkForestFit: 100 trees, ψ = 256, on 1e6×20 uniform rows
// (scikit-learn: 0.55 s on the reference machine).
func BenchmarkForestFit(b *testing.B) {
	if testing.Short() {
		b.Skip("1e6×20 data set (160 MB) skipped in -short mode")
	}
	X := uniform(1000000, 20, 3)
	probe := []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}
	b.ReportAllocs()
	var f *Forest
	cpu0 := processCPU()
	for b.Loop() {
		var err error
		if f, err = Fit(X, Config{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	if len(f.Trees) != 100 || f.MaxSamples != 256 {
		b.Fatalf("%d trees, ψ %d", len(f.Trees), f.MaxSamples)
	}
	if s := f.Score(probe); s < 0.6 {
		b.Fatalf("far point scores %v", s)
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkForestScoreRows: ScoreRows in batches of 64 rows of 104
// features (detect's batch and schema sizes) on one goroutine, against
// Score row by row on the same rows.
func BenchmarkForestScoreRows(b *testing.B) {
	const d, batch = 104, 64
	f := mustFit(b, uniform(10000, d, 1), Config{Seed: 1})
	Q := uniform(100*batch, d, 2)
	xs := make([][]float64, 100*batch)
	for i := range xs {
		xs[i] = Q.RawRowView(i)
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		want[i] = f.Score(x)
	}
	b.Run("rows", func(b *testing.B) {
		dst := make([]float64, len(xs))
		b.ReportAllocs()
		n := 0
		cpu0 := processCPU()
		for b.Loop() {
			for lo := 0; lo < len(xs); lo += batch {
				f.ScoreRows(dst[lo:lo+batch], xs[lo:lo+batch])
			}
			n += len(xs)
		}
		reportCPU(b, n, processCPU()-cpu0)
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		for i := range dst {
			if dst[i] != want[i] {
				b.Fatalf("row %d: ScoreRows %v, Score %v", i, dst[i], want[i])
			}
		}
	})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		cpu0 := processCPU()
		var sum float64
		for b.Loop() {
			for _, x := range xs {
				sum += f.Score(x)
			}
			n += len(xs)
		}
		reportCPU(b, n, processCPU()-cpu0)
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		if !(sum > 0) {
			b.Fatal("no scores")
		}
	})
}
