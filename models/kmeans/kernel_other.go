//go:build !amd64 || purego

package kmeans

const haveAVX2FMA = false

func dist8(x, c, out []float32, n, d int) { dist8Go(x, c, out, n, d) }

func assign8(x, c, xn []float32, dst []int32, n, d int, a, b, cc float32) int { return 0 }
