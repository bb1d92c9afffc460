//go:build linux

package capture

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f read-only, advising the kernel that they
// will be read sequentially.
func mapFile(f *os.File, size int) ([]byte, error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	_ = syscall.Madvise(b, syscall.MADV_SEQUENTIAL)
	return b, nil
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// dropPages releases the mapping's pages of b (page-aligned), which have
// been read: they stay in the page cache, but not in the process's
// resident set.
func dropPages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
