package features

import (
	"math"
	"unsafe"
)

// flow is the compact per-flow state (about 260 bytes). Times after start
// are microsecond offsets from start in uint32, which covers 71 minutes:
// Config caps ActiveTimeout below that, so a record never spans more.
type flow struct {
	key         flowKey // 40
	start, last int64   // Unix ns
	prev, next  uint32  // LRU list (by last packet), nilSlot at the ends
	seq         uint32
	ctxDst      uint32 // cached entry index in the responder table (victim.go; checked by key); here it fills the padding before fwdPkts

	fwdPkts, bwdPkts   uint32
	fwdBytes, bwdBytes uint64
	fwdHdr, bwdHdr     uint64

	firstFwd, lastFwd, firstBwd, lastBwd uint32 // µs offsets

	payMin, payMax [2]uint16  // per direction (0 fwd, 1 bwd)
	paySq          [2]float64 // sum of squared payload lengths

	iatMin, iatMax [3]uint32 // µs; 0 overall, 1 fwd, 2 bwd
	iatSq          [3]float64

	actStart               uint32 // µs offset of the current active period
	nIdle                  uint32 // idle gaps seen (completed active periods)
	actMin, actMax, actSum uint32 // µs, over completed active periods
	idleMin, idleMax       uint32 // µs
	app                    uint32 // hint state in the Extractor's appStore (hints.go), 1-based; 0: none
	actSq, idleSq          float64
	flags                  [numFlagCounts]uint16 // saturating
	win                    [2]uint16             // initial TCP window per direction
	icmpTC                 uint16                // ICMP type<<8|code of the first packet
	state                  uint16                // st* bits
	ctxSrc, ctxSvc         uint32                // cached entry indexes in the host and service context tables (checked by key)
}

// Flag counters in flow.flags.
const (
	fcFIN = iota
	fcSYN
	fcSYNACK
	fcRST
	fcPSH
	fcURG
	fcECE
	fcCWR
	numFlagCounts
)

// flow.state bits.
const (
	stInUse       = 1 << iota
	stSrcIsA      // forward sender is key.a
	stTCPSyn      // first packet was a SYN without ACK
	stTCPMid      // first TCP packet was not a pure SYN: picked up mid-stream
	stSynAck      // SYN-ACK seen from the backward side
	stEstablished // ACK from the forward side after the SYN-ACK
	stFinFwd
	stFinBwd
	stRST
	stClosing        // FIN both ways or RST: waiting out the grace period
	stWinFwd         // win[0] set
	stWinBwd         // win[1] set
	stDirty          // packets since the last emission (snapshots)
	stFwdClosedFirst // the first FIN or RST came from the forward side
	stUnsol          // the first packet was an unsolicited response's (victim.go, firstKind)
)

const nilSlot = ^uint32(0)

func usOff(d int64) uint32 {
	d /= 1000
	if d < 0 {
		return 0
	}
	if d > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(d)
}

func sat16(x *uint16) {
	if *x != math.MaxUint16 {
		*x++
	}
}

// reset starts the flow over at time ts, keeping key, links, seq and the
// direction bit.
func (f *flow) reset(ts int64) {
	key, prev, next, seq := f.key, f.prev, f.next, f.seq
	st := f.state & (stInUse | stSrcIsA)
	*f = flow{key: key, prev: prev, next: next, seq: seq, state: st, start: ts, last: ts}
	f.payMin = [2]uint16{math.MaxUint16, math.MaxUint16}
	f.iatMin = [3]uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32}
	f.actMin, f.idleMin = math.MaxUint32, math.MaxUint32
}

// add accounts one packet to the flow. fwd says the packet goes in the
// forward direction; ts is not before f.last (the caller clamps it).
func (f *flow) add(p *packet, ts int64, fwd bool, activity int64) {
	off := usOff(ts - f.start)
	total := f.fwdPkts + f.bwdPkts
	if total > 0 {
		gap := off - usOff(f.last-f.start)
		iatUpdate(&f.iatMin[0], &f.iatMax[0], &f.iatSq[0], gap)
		if int64(gap)*1000 > activity {
			act := usOff(f.last-f.start) - f.actStart
			f.actSum += act
			minmax(&f.actMin, &f.actMax, act)
			f.actSq += float64(act) * float64(act)
			minmax(&f.idleMin, &f.idleMax, gap)
			f.idleSq += float64(gap) * float64(gap)
			f.nIdle++
			f.actStart = off
		}
	}
	f.last = ts
	pay := p.ipLen - p.hdrLen
	if pay > math.MaxUint16 {
		pay = math.MaxUint16
	}
	d := 0
	if fwd {
		if f.fwdPkts > 0 {
			iatUpdate(&f.iatMin[1], &f.iatMax[1], &f.iatSq[1], off-f.lastFwd)
		} else {
			f.firstFwd = off
		}
		f.lastFwd = off
		f.fwdPkts++
		f.fwdBytes += uint64(p.ipLen)
		f.fwdHdr += uint64(p.hdrLen)
	} else {
		d = 1
		if f.bwdPkts > 0 {
			iatUpdate(&f.iatMin[2], &f.iatMax[2], &f.iatSq[2], off-f.lastBwd)
		} else {
			f.firstBwd = off
		}
		f.lastBwd = off
		f.bwdPkts++
		f.bwdBytes += uint64(p.ipLen)
		f.bwdHdr += uint64(p.hdrLen)
	}
	pl := uint16(pay)
	if pl < f.payMin[d] {
		f.payMin[d] = pl
	}
	if pl > f.payMax[d] {
		f.payMax[d] = pl
	}
	f.paySq[d] += float64(pay) * float64(pay)
	f.state |= stDirty
	if total == 0 && (p.proto == 1 || p.proto == 58) {
		f.icmpTC = uint16(p.icmpType)<<8 | uint16(p.icmpCode)
	}
	if p.proto == 6 {
		f.addTCP(p, fwd, total == 0)
	}
}

func (f *flow) addTCP(p *packet, fwd, first bool) {
	fl := p.tcpFlags
	syn, ack := fl&flagSYN != 0, fl&flagACK != 0
	if first {
		if syn && !ack {
			f.state |= stTCPSyn
		} else {
			f.state |= stTCPMid
		}
	}
	if fl&(flagFIN|flagRST) != 0 && fwd && f.state&(stFinFwd|stFinBwd|stRST) == 0 {
		f.state |= stFwdClosedFirst
	}
	if fl&flagFIN != 0 {
		sat16(&f.flags[fcFIN])
		if fwd {
			f.state |= stFinFwd
		} else {
			f.state |= stFinBwd
		}
	}
	if syn {
		sat16(&f.flags[fcSYN])
		if ack {
			sat16(&f.flags[fcSYNACK])
			if !fwd {
				f.state |= stSynAck
			}
		}
	} else if ack && fwd && f.state&stSynAck != 0 {
		f.state |= stEstablished
	}
	if fl&flagRST != 0 {
		sat16(&f.flags[fcRST])
		f.state |= stRST
	}
	if fl&flagPSH != 0 {
		sat16(&f.flags[fcPSH])
	}
	if fl&flagURG != 0 {
		sat16(&f.flags[fcURG])
	}
	if fl&flagECE != 0 {
		sat16(&f.flags[fcECE])
	}
	if fl&flagCWR != 0 {
		sat16(&f.flags[fcCWR])
	}
	if fwd && f.state&stWinFwd == 0 {
		f.win[0] = p.window
		f.state |= stWinFwd
	} else if !fwd && f.state&stWinBwd == 0 {
		f.win[1] = p.window
		f.state |= stWinBwd
	}
}

func minmax(mn, mx *uint32, v uint32) {
	if v < *mn {
		*mn = v
	}
	if v > *mx {
		*mx = v
	}
}

func iatUpdate(mn, mx *uint32, sq *float64, v uint32) {
	minmax(mn, mx, v)
	*sq += float64(v) * float64(v)
}

// unsafeSizeofFlow is the size of the per-flow state, for tests.
const unsafeSizeofFlow = unsafe.Sizeof(flow{})
