package train

import (
	"math"
	"testing"
)

func TestReservoirBoundedAndUniform(t *testing.T) {
	const capRows, n, trials = 100, 1000, 400
	counts := make([]int, n)
	for s := 0; s < trials; s++ {
		r := NewReservoir(1, capRows, uint64(s))
		for i := 0; i < n; i++ {
			r.Add([]float64{float64(i)})
		}
		if r.Len() != capRows || r.Seen() != n {
			t.Fatalf("len %d seen %d", r.Len(), r.Seen())
		}
		for _, v := range r.Rows() {
			counts[int(v)]++
		}
	}
	// Each row is kept with probability cap/n = 0.1: expect 40 of 400 trials.
	// Compare the first and last tenth of the stream: a biased sampler
	// (e.g. one that keeps the first rows) fails this.
	first, last := 0, 0
	for i := 0; i < n/10; i++ {
		first += counts[i]
		last += counts[n-1-i]
	}
	want := float64(trials*capRows) / 10
	for _, got := range []int{first, last} {
		if math.Abs(float64(got)-want) > 0.15*want {
			t.Fatalf("tenth of the stream kept %d times, want about %.0f", got, want)
		}
	}
}

func TestReservoirDeterministic(t *testing.T) {
	a, b := NewReservoir(2, 10, 42), NewReservoir(2, 10, 42)
	for i := 0; i < 500; i++ {
		row := []float64{float64(i), float64(-i)}
		a.Add(row)
		b.Add(row)
	}
	for i, v := range a.Rows() {
		if b.Rows()[i] != v {
			t.Fatal("same seed, different sample")
		}
	}
}
