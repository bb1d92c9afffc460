//go:build amd64 && !purego

package kmeans

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

//go:noescape
func dist8AVX2(x, c, out *float32, n, d int)

// haveAVX2FMA reports whether the CPU and OS support AVX2 and FMA3.
var haveAVX2FMA = func() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

// dist8 is dist8Go with the rows in multiples of four done by the AVX2
// kernel when the CPU has it.
func dist8(x, c, out []float32, n, d int) {
	n4 := n &^ 3
	if haveAVX2FMA && n4 > 0 {
		_ = x[n4*d-1]
		_ = c[d*8-1]
		_ = out[n4*8-1]
		dist8AVX2(&x[0], &c[0], &out[0], n4, d)
		x, out, n = x[n4*d:], out[n4*8:], n-n4
	}
	dist8Go(x, c, out, n, d)
}

//go:noescape
func assign8AVX2(x, c, xn *float32, dst *int32, n, d int, a, b, cc float32)

// assign8 runs assign8AVX2 on the largest multiple of four rows ≤ n when
// the CPU has AVX2 and returns how many rows it did.
func assign8(x, c, xn []float32, dst []int32, n, d int, a, b, cc float32) int {
	n4 := n &^ 3
	if !haveAVX2FMA || n4 == 0 {
		return 0
	}
	_ = x[n4*d-1]
	_ = c[d*8-1]
	_ = xn[n4-1]
	_ = dst[n4-1]
	assign8AVX2(&x[0], &c[0], &xn[0], &dst[0], n4, d, a, b, cc)
	return n4
}
