package afterimage

import "math"

// nL is the number of decay factors.
const nL = 5

// Lambdas are Kitsune's decay factors λ, in the order of the schema. A
// statistic's weight halves every 1/λ seconds without packets.
var Lambdas = [nL]float64{5, 3, 1, 0.1, 0.01}

var lambdaNames = [nL]string{"L5", "L3", "L1", "L0.1", "L0.01"}

// decay returns 2^(−λ·dt) for every λ, dt in nanoseconds (> 0).
func decay(dtNS int64) (f [nL]float64) {
	dt := float64(dtNS) / 1e9
	for i, l := range Lambdas {
		f[i] = math.Exp2(-l * dt)
	}
	return f
}

// inc is one damped incremental statistic (Kitsune's incStat): decayed
// weight w, linear sum ls and squared sum ss.
type inc struct{ w, ls, ss float64 }

func (s *inc) mean() float64 {
	if s.w <= 0 {
		return 0
	}
	return s.ls / s.w
}

// variance is |ss/w − mean²| as in Kitsune (the absolute value absorbs
// rounding that would make it slightly negative).
func (s *inc) variance() float64 {
	if s.w <= 0 {
		return 0
	}
	m := s.ls / s.w
	return math.Abs(s.ss/s.w - m*m)
}

// stream is one damped statistic per λ with the time of its last update.
type stream struct {
	last int64
	s    [nL]inc
}

// decayTo decays the sums to time t. Time never runs backwards: an older
// t (a packet out of order) decays nothing.
func (st *stream) decayTo(t int64) {
	if t <= st.last {
		return
	}
	f := decay(t - st.last)
	for i := range st.s {
		st.s[i].w *= f[i]
		st.s[i].ls *= f[i]
		st.s[i].ss *= f[i]
	}
	st.last = t
}

// insert decays to t and adds v with weight 1.
func (st *stream) insert(v float64, t int64) {
	st.decayTo(t)
	for i := range st.s {
		st.s[i].w++
		st.s[i].ls += v
		st.s[i].ss += v * v
	}
}

// put1D appends weight, mean, variance for λ index i at out[0:3].
func (st *stream) put1D(i int, out []float64) {
	s := &st.s[i]
	out[0], out[1], out[2] = s.w, s.mean(), s.variance()
}

// pair holds the two directions of a channel or socket (a→b is d[0]) and
// their damped residual-product sum, Kitsune's incStat_cov.
type pair struct {
	d       [2]stream
	covLast int64
	cf3, w3 [nL]float64
	res     [2][nL]float64 // last residual of each direction
}

func (p *pair) init(t int64) {
	p.d[0].last, p.d[1].last, p.covLast = t, t, t
}

// update adds a packet of size v at t in direction dir and writes the 7
// statistics of every λ at out[7i:7i+7]: weight, mean, std of dir, then
// magnitude, radius, covariance and correlation coefficient of both
// directions.
func (p *pair) update(dir int, v float64, t int64, out []float64) {
	me, other := &p.d[dir], &p.d[1-dir]
	me.insert(v, t)
	other.decayTo(t)
	if t > p.covLast {
		f := decay(t - p.covLast)
		for i := range p.cf3 {
			p.cf3[i] *= f[i]
			p.w3[i] *= f[i]
		}
		p.covLast = t
	}
	for i := range p.cf3 {
		m := &me.s[i]
		o := &other.s[i]
		mm, om := m.mean(), o.mean()
		mv, ov := m.variance(), o.variance()
		r := v - mm
		p.cf3[i] += r * p.res[1-dir][i]
		p.w3[i]++
		p.res[dir][i] = r
		cov := p.cf3[i] / p.w3[i]
		ms, os := math.Sqrt(mv), math.Sqrt(ov)
		pcc := 0.0
		if ss := ms * os; ss != 0 {
			pcc = cov / ss
		}
		o7 := out[7*i : 7*i+7]
		o7[0], o7[1], o7[2] = m.w, mm, ms
		o7[3] = math.Sqrt(mm*mm + om*om)
		o7[4] = math.Sqrt(mv*mv + ov*ov)
		o7[5], o7[6] = cov, pcc
	}
}

// channel is a pair of addresses with the jitter (inter-arrival time)
// statistic of each direction.
type channel struct {
	pair
	jit     [2]stream
	jitSeen [2]bool
}
