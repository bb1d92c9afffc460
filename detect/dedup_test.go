package detect

import (
	"slices"
	"testing"
	"time"
)

// TestDedupSetFilter checks the counting filter against the map through
// puts, updates, removals and both kinds of pruning: every slot's count
// equals the number of keys in it, and get finds exactly the keys the map
// holds.
func TestDedupSetFilter(t *testing.T) {
	d := newDedupSet()
	key := func(i int) (dedupKey, uint32) {
		k := dedupKey{sport: uint16(i), dport: uint16(i >> 16), proto: 6, seq: uint32(i % 3)}
		return k, dedupSlot(uint64(i)*0x2545F4914F6CDD1D, k.seq)
	}
	check := func(stage string) {
		t.Helper()
		counts := make([]uint32, len(d.count))
		for _, e := range d.m {
			counts[e.slot]++
		}
		for s, c := range counts {
			if d.count[s] != c {
				t.Fatalf("%s: slot %d counts %d, the map holds %d", stage, s, d.count[s], c)
			}
		}
		for i := range maxDedupPerWorker + 100 {
			k, slot := key(i)
			_, inMap := d.m[k]
			if _, got := d.get(&k, slot); got != inMap {
				t.Fatalf("%s: key %d: get %v, in the map %v", stage, i, got, inMap)
			}
		}
	}
	old := int64(time.Hour)
	// Half the keys are stale by the time the map fills.
	for i := range maxDedupPerWorker {
		k, slot := key(i)
		at := old
		if i%2 == 0 {
			at = 0
		}
		_, found := d.get(&k, slot)
		d.put(&k, slot, found, dedupEntry{score: 1, at: at}, at)
	}
	check("full")
	for i := range 10 { // updates of present keys
		k, slot := key(i)
		_, found := d.get(&k, slot)
		d.put(&k, slot, found, dedupEntry{score: 2, at: old}, old)
	}
	check("updated")
	k, slot := key(maxDedupPerWorker)
	d.put(&k, slot, false, dedupEntry{score: 1, at: old}, old+int64(11*time.Minute)) // prunes the stale half
	if len(d.m) > maxDedupPerWorker/2+10 {
		t.Fatalf("%d entries after pruning stale ones", len(d.m))
	}
	check("stale pruned")
	for i := 1; i < maxDedupPerWorker; i += 2 {
		k, slot := key(i)
		if _, found := d.get(&k, slot); found {
			d.remove(&k, slot)
		}
	}
	check("removed")
	for i := range maxDedupPerWorker + 50 { // fill again with fresh keys: an arbitrary quarter goes
		k, slot := key(i)
		_, found := d.get(&k, slot)
		d.put(&k, slot, found, dedupEntry{score: 1, at: old}, old)
	}
	check("quarter pruned")
}

func TestDedup(t *testing.T) {
	// One flow, snapshot every packet: scores 2.0, 2.1, 2.5, 0.5, 2.8, then
	// final 3.2. Margin 10%: alerts at 2.0, 2.5 (>2.2), 2.8 (>2.75), final
	// 3.2 (>3.08). A second flow stays below threshold, a third alerts only
	// at its end.
	pk := []fakePkt{
		fp(1, 20, 0, 1*time.Second), fp(1, 21, 0, 2*time.Second), fp(1, 25, 0, 3*time.Second),
		fp(2, 5, 0, 3*time.Second), fp(1, 5, 0, 4*time.Second), fp(1, 28, 0, 5*time.Second),
		fp(3, 5, 0, 5*time.Second), fp(3, 15, 1, 6*time.Second), fp(1, 32, 1, 7*time.Second),
	}
	sum, alerts := runFake(t, Config{NewExtractor: newFakeExt(1), Workers: 2}, &fakeModel{}, &sliceSource{pkts: pk})
	type got struct {
		port  uint16
		score float64
		final bool
	}
	var g []got
	for _, a := range alerts {
		g = append(g, got{*a.SrcPort, float64(a.Score), a.Final})
	}
	// Alerts of different flows may interleave in any order across
	// workers; within a flow the order is fixed.
	slices.SortStableFunc(g, func(a, b got) int { return int(a.port) - int(b.port) })
	want := []got{{1001, 2.0, false}, {1001, 2.5, false}, {1001, 2.8, false}, {1001, 3.2, true}, {1003, 1.5, true}}
	if !slices.Equal(g, want) {
		t.Fatalf("alerts = %v, want %v", g, want)
	}
	if sum.Alerts != 5 || sum.Packets != 9 || sum.Flows != 3 || sum.Dropped.Internal != 0 {
		t.Fatalf("summary = %+v", sum)
	}
	// k-means scores half the ensemble: 1.0, 1.25, 1.4, 1.6, 0.75 against
	// threshold 1; 1.0 counts, since a score at the threshold alerts.
	if sum.AlertsByModel["ensemble"] != 5 || sum.AlertsByModel["iforest"] != 5 || sum.AlertsByModel["kmeans"] != 4 {
		t.Fatalf("alerts by model = %v", sum.AlertsByModel)
	}
	// The alert carries the values at scoring time, not the extractor's
	// record after the callback returned.
	for _, a := range alerts {
		if a.TopFeatures[0].Value < 0 {
			t.Fatalf("alert kept a reference to the extractor's vector: %+v", a.TopFeatures)
		}
	}
}

func TestRealertNever(t *testing.T) {
	pk := []fakePkt{fp(1, 20, 0, time.Second), fp(1, 90, 1, 2*time.Second)}
	_, alerts := runFake(t, Config{NewExtractor: newFakeExt(1), RealertMargin: -1}, &fakeModel{}, &sliceSource{pkts: pk})
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1 with RealertMargin < 0", len(alerts))
	}
}
