package detect

import (
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
