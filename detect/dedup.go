package detect

import "time"

// dedupKey identifies one flow record: the key and its Seq.
type dedupKey struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint8
	vlan         uint16
	seq          uint32
}

type dedupEntry struct {
	score float64
	at    int64
	slot  uint32 // dedupSlot of its key
}

// dedupSet is a worker's dedup state: the records (key and Seq) that
// alerted while their flow was active, with their score. Most records
// looked up are absent (every final record is looked up, to forget its
// flow), so a counting filter sits in front of the map: count[slot] is the
// number of entries whose key falls in that slot, and a zero count
// answers "absent" without hashing the 48-byte key.
type dedupSet struct {
	m     map[dedupKey]dedupEntry
	count []uint32
}

const (
	dedupFilterBits   = 14
	maxDedupPerWorker = 1 << 16 // entries per worker before prune
)

func newDedupSet() *dedupSet {
	return &dedupSet{m: make(map[dedupKey]dedupEntry), count: make([]uint32, 1<<dedupFilterBits)}
}

// dedupSlot returns the filter slot of a record from its FlowKeyHash
// (equal for equal keys) and Seq.
func dedupSlot(hash uint64, seq uint32) uint32 {
	return uint32(((hash ^ uint64(seq)) * 0x9E3779B97F4A7C15) >> (64 - dedupFilterBits))
}

// get returns k's entry; slot is k's dedupSlot.
func (d *dedupSet) get(k *dedupKey, slot uint32) (dedupEntry, bool) {
	if d.count[slot] == 0 {
		return dedupEntry{}, false
	}
	e, ok := d.m[*k]
	return e, ok
}

// remove deletes k, which is present.
func (d *dedupSet) remove(k *dedupKey, slot uint32) {
	delete(d.m, *k)
	d.count[slot]--
}

// put stores e for k (present: whether get found it), pruning the map
// first when it is full (now: the capture time).
func (d *dedupSet) put(k *dedupKey, slot uint32, present bool, e dedupEntry, now int64) {
	if len(d.m) >= maxDedupPerWorker {
		d.prune(now)
		_, present = d.m[*k]
	}
	e.slot = slot
	d.m[*k] = e
	if !present {
		d.count[slot]++
	}
}

// prune bounds the map. Entries normally leave when the flow's final
// record is scored; one whose final record was dropped would stay, so
// when the map is full, entries not updated for 10 minutes of capture time
// go, and if none qualifies, an arbitrary quarter.
func (d *dedupSet) prune(now int64) {
	const stale = int64(10 * time.Minute)
	for k, e := range d.m {
		if now-e.at > stale {
			delete(d.m, k)
			d.count[e.slot]--
		}
	}
	if len(d.m) < maxDedupPerWorker {
		return
	}
	n := len(d.m) / 4
	for k, e := range d.m {
		if n == 0 {
			break
		}
		delete(d.m, k)
		d.count[e.slot]--
		n--
	}
}
