package iforest

import "unsafe"

// walk8 walks eight rows through the axis-parallel tree rooted at r for
// steps levels and adds each row's leaf term to sums[0:8]. It is the hot
// loop of ScoreRows and ScoreBatch: the eight traversals are independent,
// so the CPU overlaps their loads, and it reads nodes and row values
// through unsafe pointers with no bounds checks, which frees the
// registers that eight slice lengths would hold (with them the indices
// were spilled to the stack on every step).
//
// The rows must hold no NaN (the caller checks, hasNaN): a split sends
// x right when x > thr, which equals !(x <= thr) except for NaN, and a
// leaf (thr +Inf) keeps x, so the step mask of (*node).child is not needed.
//
// Safety: the compiled forest passed Validate (c.ok), so every node index
// reached from a root is < len(nodes) and every feat is < Dim, and every
// row in xs has length Dim (ScoreRows and ScoreBatch check it).
func walk8(nodes []node, terms []float64, r int32, steps int, xs *[8][]float64, sums *[8]float64) {
	nb := unsafe.Pointer(unsafe.SliceData(nodes))
	p0, p1 := unsafe.Pointer(unsafe.SliceData(xs[0])), unsafe.Pointer(unsafe.SliceData(xs[1]))
	p2, p3 := unsafe.Pointer(unsafe.SliceData(xs[2])), unsafe.Pointer(unsafe.SliceData(xs[3]))
	p4, p5 := unsafe.Pointer(unsafe.SliceData(xs[4])), unsafe.Pointer(unsafe.SliceData(xs[5]))
	p6, p7 := unsafe.Pointer(unsafe.SliceData(xs[6])), unsafe.Pointer(unsafe.SliceData(xs[7]))
	i0, i1, i2, i3, i4, i5, i6, i7 := r, r, r, r, r, r, r, r
	for range steps {
		i0 = step(nb, p0, i0)
		i1 = step(nb, p1, i1)
		i2 = step(nb, p2, i2)
		i3 = step(nb, p3, i3)
		i4 = step(nb, p4, i4)
		i5 = step(nb, p5, i5)
		i6 = step(nb, p6, i6)
		i7 = step(nb, p7, i7)
	}
	sums[0] += terms[i0]
	sums[1] += terms[i1]
	sums[2] += terms[i2]
	sums[3] += terms[i3]
	sums[4] += terms[i4]
	sums[5] += terms[i5]
	sums[6] += terms[i6]
	sums[7] += terms[i7]
}

// at returns node i of the array at nb.
func at(nb unsafe.Pointer, i int32) *node {
	return (*node)(unsafe.Add(nb, uintptr(i)*unsafe.Sizeof(node{})))
}

// step is (*node).child for node i of the array at nb and the row at x,
// which holds no NaN.
func step(nb, x unsafe.Pointer, i int32) int32 {
	n := at(nb, i)
	var right int32
	if *(*float64)(unsafe.Add(x, uintptr(n.feat)*8)) > n.thr {
		right = 1
	}
	return n.left + right
}

// hasNaN reports whether a row of xs holds a NaN.
func hasNaN(xs [][]float64) bool {
	for _, x := range xs {
		for _, v := range x {
			if v != v {
				return true
			}
		}
	}
	return false
}
