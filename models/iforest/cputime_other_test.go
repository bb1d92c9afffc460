//go:build !unix

package iforest

func processCPU() float64 { return 0 }
