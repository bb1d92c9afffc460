package iforest

import (
	"fmt"
	"math"
)

// Limits on what Fit builds and Validate accepts. They bound the memory a
// forest read from a file can make Validate allocate (about 40 bytes per
// node, on top of what the decoder already allocated).
const (
	MaxTrees          = 1 << 14 // trees per forest
	MaxFeatures       = 1 << 14 // Dim; must fit node.feat (uint16)
	MaxSamplesLimit   = 1 << 20 // ψ
	maxDepthLimit     = 20      // ⌈log2 MaxSamplesLimit⌉
	maxNodesPerForest = 1 << 26
)

// depthLimit is scikit-learn's max_depth = ⌈log2 max(ψ, 2)⌉.
func depthLimit(psi int) int {
	d := 0
	for (1 << d) < max(psi, 2) {
		d++
	}
	return d
}

// Validate checks a Forest's structure and rebuilds its scoring form. It
// checks that the counts are in range (Dim, ψ, the number of trees, the
// extension level), that every tree's arrays have matching lengths and at
// most 2^(L+1)-1 nodes for the depth limit L = ⌈log2 ψ⌉, that children have
// larger indices than their parent and every node but the root has exactly
// one parent (so each tree is a tree: no cycles, no sharing), that no leaf
// is deeper than L, that split features are < Dim, that thresholds, normals
// and intercepts are finite, and that sizes are in [0, ψ], the root's is ψ
// and every split node's is the sum of its children's (so c(ψ) is the
// normaliser the leaves were built for).
//
// A Forest that passes Validate never panics, loops or returns NaN in
// Score, ScoreBatch or Explain (given len(x) == Dim()). Validate must not
// run concurrently with those methods.
func (f *Forest) Validate() error {
	if f == nil {
		return errNotFitted
	}
	f.c = compiled{}
	if f.NumFeatures < 1 || f.NumFeatures > MaxFeatures {
		return fmt.Errorf("iforest: dim %d out of range [1, %d]", f.NumFeatures, MaxFeatures)
	}
	if f.MaxSamples < 1 || f.MaxSamples > MaxSamplesLimit {
		return fmt.Errorf("iforest: max_samples %d out of range [1, %d]", f.MaxSamples, MaxSamplesLimit)
	}
	if len(f.Trees) < 1 || len(f.Trees) > MaxTrees {
		return fmt.Errorf("iforest: %d trees, want [1, %d]", len(f.Trees), MaxTrees)
	}
	if f.ExtensionLevel < 0 || f.ExtensionLevel >= f.NumFeatures {
		return fmt.Errorf("iforest: extension level %d out of range [0, %d]", f.ExtensionLevel, f.NumFeatures-1)
	}
	k := 0
	if f.ExtensionLevel > 0 {
		k = f.ExtensionLevel + 1
	}
	L := depthLimit(f.MaxSamples)
	maxNodes := 1<<(L+1) - 1
	total := 0
	for t := range f.Trees {
		n := len(f.Trees[t].Left)
		if n < 1 || n > maxNodes {
			return fmt.Errorf("iforest: tree %d: %d nodes, want [1, %d]", t, n, maxNodes)
		}
		total += n
	}
	if total > maxNodesPerForest {
		return fmt.Errorf("iforest: %d nodes in all, more than %d", total, maxNodesPerForest)
	}
	for t := range f.Trees {
		if err := f.Trees[t].check(f, k, L); err != nil {
			return fmt.Errorf("iforest: tree %d: %w", t, err)
		}
	}
	f.compile(total, k)
	return nil
}

func (tr *Tree) check(f *Forest, k, L int) error {
	n := len(tr.Left)
	if len(tr.Right) != n || len(tr.Size) != n {
		return fmt.Errorf("array lengths differ: left %d, right %d, size %d", n, len(tr.Right), len(tr.Size))
	}
	if k == 0 {
		if len(tr.Feature) != n || len(tr.Threshold) != n {
			return fmt.Errorf("feature/threshold lengths %d/%d, want %d", len(tr.Feature), len(tr.Threshold), n)
		}
		if len(tr.NormalIndex)+len(tr.NormalValue)+len(tr.Intercept) != 0 {
			return fmt.Errorf("hyperplane arrays in an axis-parallel forest")
		}
	} else {
		if len(tr.NormalIndex) != n*k || len(tr.NormalValue) != n*k || len(tr.Intercept) != n {
			return fmt.Errorf("normal/intercept lengths %d/%d/%d, want %d/%d/%d",
				len(tr.NormalIndex), len(tr.NormalValue), len(tr.Intercept), n*k, n*k, n)
		}
		if len(tr.Feature)+len(tr.Threshold) != 0 {
			return fmt.Errorf("axis-parallel arrays in an extended forest")
		}
	}
	dim := int32(f.NumFeatures)
	parents := make([]uint8, n)
	for i := range n {
		l, r := tr.Left[i], tr.Right[i]
		s := tr.Size[i]
		if s < 0 || int(s) > f.MaxSamples {
			return fmt.Errorf("node %d: size %d out of range [0, %d]", i, s, f.MaxSamples)
		}
		if k == 0 {
			if !finite(tr.Threshold[i]) {
				return fmt.Errorf("node %d: threshold not finite", i)
			}
		} else {
			if !finite(tr.Intercept[i]) {
				return fmt.Errorf("node %d: intercept not finite", i)
			}
			for j := i * k; j < (i+1)*k; j++ {
				if tr.NormalIndex[j] < 0 || tr.NormalIndex[j] >= dim {
					return fmt.Errorf("node %d: normal index %d out of range [0, %d)", i, tr.NormalIndex[j], dim)
				}
				if !finite(tr.NormalValue[j]) {
					return fmt.Errorf("node %d: normal not finite", i)
				}
			}
		}
		if l == -1 && r == -1 {
			if k == 0 && tr.Feature[i] >= 0 {
				return fmt.Errorf("leaf %d has feature %d, want < 0", i, tr.Feature[i])
			}
			continue
		}
		if l <= int32(i) || r <= int32(i) || int(l) >= n || int(r) >= n || l == r {
			return fmt.Errorf("node %d: children %d, %d not in (%d, %d)", i, l, r, i, n)
		}
		if k == 0 && (tr.Feature[i] < 0 || tr.Feature[i] >= dim) {
			return fmt.Errorf("node %d: feature %d out of range [0, %d)", i, tr.Feature[i], dim)
		}
		if int64(s) != int64(tr.Size[l])+int64(tr.Size[r]) {
			return fmt.Errorf("node %d: size %d != %d + %d", i, s, tr.Size[l], tr.Size[r])
		}
		parents[l]++
		parents[r]++
		if parents[l] > 1 || parents[r] > 1 {
			return fmt.Errorf("node %d: a child has two parents", i)
		}
	}
	for i := 1; i < n; i++ {
		if parents[i] != 1 {
			return fmt.Errorf("node %d is unreachable", i)
		}
	}
	if int(tr.Size[0]) != f.MaxSamples {
		return fmt.Errorf("root size %d, want max_samples %d", tr.Size[0], f.MaxSamples)
	}
	// Depths: parents precede children, so one forward pass suffices.
	depth := parents // reuse: depth ≤ L ≤ 20 fits a uint8
	depth[0] = 0
	for i := range n {
		if tr.Left[i] == -1 {
			continue
		}
		d := depth[i] + 1
		if int(d) > L {
			return fmt.Errorf("node %d deeper than the depth limit %d", tr.Left[i], L)
		}
		depth[tr.Left[i]] = d
		depth[tr.Right[i]] = d
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// compile builds f.c from a forest that passed the structural checks: each
// tree relabelled breadth first so that siblings are adjacent, leaves
// carrying their path length term.
func (f *Forest) compile(total, k int) {
	c := compiled{
		nodes: make([]node, 0, total),
		terms: make([]float64, 0, total),
		roots: make([]int32, len(f.Trees)),
		sizes: make([]int32, 0, total),
		k:     k,
	}
	if k > 0 {
		c.eIdx = make([]int32, 0, total*k)
		c.eVal = make([]float64, 0, total*k)
	}
	var queue []int32
	var depth []int32
	for t := range f.Trees {
		tr := &f.Trees[t]
		base := int32(len(c.nodes))
		c.roots[t] = base
		// queue[p] is the original index of the node at position base+p.
		queue = append(queue[:0], 0)
		depth = append(depth[:0], 0)
		for p := 0; p < len(queue); p++ {
			i := queue[p]
			c.sizes = append(c.sizes, tr.Size[i])
			if tr.Left[i] == -1 {
				// scikit-learn: decision_path node count + c(size) - 1.
				v := float64(depth[p]+1) + avgPathLength(float64(tr.Size[i])) - 1.0
				self := base + int32(p)
				c.nodes = append(c.nodes, node{thr: math.Inf(1), left: self})
				c.terms = append(c.terms, v)
				if k > 0 {
					c.eIdx = append(c.eIdx, make([]int32, k)...)
					c.eVal = append(c.eVal, make([]float64, k)...)
				}
				c.depth = max(c.depth, int(depth[p]))
				continue
			}
			nd := node{left: base + int32(len(queue)), step: 1}
			if k == 0 {
				nd.feat = uint16(tr.Feature[i])
				nd.thr = tr.Threshold[i]
			} else {
				nd.thr = tr.Intercept[i]
				c.eIdx = append(c.eIdx, tr.NormalIndex[int(i)*k:int(i+1)*k]...)
				c.eVal = append(c.eVal, tr.NormalValue[int(i)*k:int(i+1)*k]...)
			}
			c.nodes = append(c.nodes, nd)
			c.terms = append(c.terms, 0)
			queue = append(queue, tr.Left[i], tr.Right[i])
			depth = append(depth, depth[p]+1, depth[p]+1)
		}
	}
	// numpy: len(estimators_) * _average_path_length([max_samples_]).
	c.denom = float64(len(f.Trees)) * avgPathLength(float64(f.MaxSamples))
	c.ok = true
	f.c = c
}
