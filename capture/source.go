package capture

import (
	"github.com/gopacket/gopacket/layers"
)

// CaptureInfo describes one captured frame.
type CaptureInfo struct {
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	// It is the packet's own clock; nothing in vigil reads the wall clock.
	Timestamp int64
	// CaptureLength is len(data); Length is the frame's length on the wire.
	CaptureLength int
	Length        int
	// LinkType is the frame's link-layer type. In a pcapng file it can
	// differ per interface.
	LinkType layers.LinkType
	// InterfaceIndex is the pcapng interface (0 for pcap and live sources).
	InterfaceIndex int
}

// Source yields raw frames in capture order.
//
// The data returned by ReadPacket is owned by the Source and is valid only
// until the next call to ReadPacket; copy it to keep it. ReadPacket returns
// io.EOF at the clean end of input.
type Source interface {
	ReadPacket() (data []byte, ci CaptureInfo, err error)
}
