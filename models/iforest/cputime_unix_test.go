//go:build unix

package iforest

import "syscall"

// processCPU returns the CPU time (user + system) this process has used,
// for benchmarks' rows/cpu-s figures, which hold up on a shared machine
// where wall-clock rates do not.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
