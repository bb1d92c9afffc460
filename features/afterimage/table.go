package afterimage

import (
	"hash/maphash"
)

// key is the identity of a tracked stream, zero-padded: a source MAC and
// address (22 bytes), an address (16), an address pair (32) or a socket
// pair with protocol (37).
type key [40]byte

// table maps keys to values of type V with at most max entries. When full,
// inserting evicts the least recently used entry. It is an open-addressing
// index (linear probing, backward-shift deletion, load ≤ 1/2) over a slice
// of entries threaded on an intrusive LRU list; the index is allocated
// once and entries grow by append up to max, so a table that has reached
// its working set allocates nothing.
type table[V any] struct {
	seed    maphash.Seed
	mask    uint64
	slots   []int32 // entry index + 1; 0 is empty
	entries []entry[V]
	max     int
	head    int32 // most recently used, -1 if none
	tail    int32 // least recently used, -1 if none
	evicted uint64
}

type entry[V any] struct {
	k          key
	h          uint64
	prev, next int32
	v          V
}

func newTable[V any](max int, seed maphash.Seed) *table[V] {
	n := 16
	for n < 2*max {
		n <<= 1
	}
	return &table[V]{seed: seed, mask: uint64(n - 1), slots: make([]int32, n), max: max, head: -1, tail: -1}
}

// get returns the value for k, creating a zero one (and evicting the least
// recently used entry when the table is full) if k is new. created reports
// whether it was. The entry becomes the most recently used.
func (t *table[V]) get(k *key) (v *V, created bool) {
	h := maphash.Bytes(t.seed, k[:])
	i := h & t.mask
	for {
		s := t.slots[i]
		if s == 0 {
			break
		}
		e := &t.entries[s-1]
		if e.h == h && e.k == *k {
			t.touch(s - 1)
			return &e.v, false
		}
		i = (i + 1) & t.mask
	}
	var idx int32
	if len(t.entries) < t.max {
		idx = int32(len(t.entries))
		t.entries = append(t.entries, entry[V]{})
	} else {
		idx = t.tail
		t.unlink(idx)
		t.remove(idx)
		t.evicted++
		// The removal may have shifted entries into the probe path:
		// find the free slot again.
		i = h & t.mask
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
	}
	t.slots[i] = idx + 1
	e := &t.entries[idx]
	var zero V
	e.k, e.h, e.v = *k, h, zero
	t.pushFront(idx)
	return &e.v, true
}

// remove deletes entry idx from the index (backward-shift deletion).
func (t *table[V]) remove(idx int32) {
	i := t.entries[idx].h & t.mask
	for t.slots[i] != idx+1 {
		i = (i + 1) & t.mask
	}
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & t.mask
			s := t.slots[j]
			if s == 0 {
				return
			}
			home := t.entries[s-1].h & t.mask
			// Move s back to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

func (t *table[V]) touch(idx int32) {
	if t.head == idx {
		return
	}
	t.unlink(idx)
	t.pushFront(idx)
}

func (t *table[V]) unlink(idx int32) {
	e := &t.entries[idx]
	if e.prev >= 0 {
		t.entries[e.prev].next = e.next
	} else {
		t.head = e.next
	}
	if e.next >= 0 {
		t.entries[e.next].prev = e.prev
	} else {
		t.tail = e.prev
	}
}

func (t *table[V]) pushFront(idx int32) {
	e := &t.entries[idx]
	e.prev, e.next = -1, t.head
	if t.head >= 0 {
		t.entries[t.head].prev = idx
	}
	t.head = idx
	if t.tail < 0 {
		t.tail = idx
	}
}

// len returns the number of entries.
func (t *table[V]) len() int { return len(t.entries) }
