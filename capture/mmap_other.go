//go:build !linux

package capture

import (
	"errors"
	"os"
)

func mapFile(*os.File, int) ([]byte, error) {
	return nil, errors.New("capture: mmap not used on this system")
}

func unmapFile([]byte) error { return nil }

func dropPages([]byte) {}
