//go:build !linux

package capture

import (
	"errors"
	"io"
)

// Live is a live capture; it is only implemented on Linux.
type Live struct{}

// LiveStats are the kernel's counters for a live capture.
type LiveStats struct{ Packets, Drops uint64 }

// ErrClosed is returned by ReadPacket after Close.
var ErrClosed = errors.New("capture: live capture closed")

// OpenLive fails: live capture needs Linux's AF_PACKET.
func OpenLive(iface string, opt LiveOptions) (*Live, error) {
	return nil, errors.New("capture: live capture is only supported on linux")
}

// ReadPacket returns io.EOF.
func (l *Live) ReadPacket() ([]byte, CaptureInfo, error) { return nil, CaptureInfo{}, io.EOF }

// Stats returns zero counts.
func (l *Live) Stats() (LiveStats, error) { return LiveStats{}, nil }

// Close does nothing.
func (l *Live) Close() error { return nil }
