//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Live captures from one network interface through an AF_PACKET socket
// with a TPACKET_V3 memory-mapped receive ring: the kernel fills blocks of
// frames, ReadPacket walks them in place (no copy, no system call per
// packet) and hands a block back to the kernel when it moves past it.
// It is pure Go (golang.org/x/sys/unix); no cgo, no libpcap.
//
// The data returned by ReadPacket points into the ring and is valid until
// the next ReadPacket or Close. One goroutine reads; Close and Stats may be
// called from any goroutine.
type Live struct {
	iface    string
	fd       int
	wake     int // eventfd written by Close to interrupt poll
	ring     []byte
	blockSz  int
	blockNr  int
	snapLen  int
	linkType layers.LinkType
	loopback bool // skip outgoing copies, as libpcap does on lo

	mu      sync.Mutex // held by ReadPacket; Close takes it to unmap
	closed  atomic.Bool
	block   int // current block
	inBlock bool
	left    uint32 // packets left in the current block
	next    int    // offset of the next packet in the ring

	packets, drops atomic.Uint64
	statsMu        sync.Mutex
}

// OpenLive opens a live capture on the interface named iface.
//
// Errors are one clear line: an interface that does not exist, missing
// privilege (CAP_NET_RAW), or a filter that does not compile.
func OpenLive(iface string, opt LiveOptions) (*Live, error) {
	opt = opt.withDefaults()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %q: no such interface", iface)
	}
	linkType, arphrd := ifaceLinkType(iface)
	var filter []unix.SockFilter
	if opt.BPF != "" {
		prog, err := CompileBPF(opt.BPF, linkType, opt.SnapLen)
		if err != nil {
			return nil, err
		}
		for _, in := range prog {
			filter = append(filter, unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K})
		}
	}

	// Protocol 0: the socket receives nothing until bind, so no packet
	// gets past the filter before it is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, liveErr(iface, "socket", err)
	}
	l := &Live{iface: iface, fd: fd, wake: -1, snapLen: opt.SnapLen, linkType: linkType, loopback: arphrd == unix.ARPHRD_LOOPBACK}
	fail := func(what string, err error) (*Live, error) {
		l.release()
		return nil, liveErr(iface, what, err)
	}
	if filter != nil {
		prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return fail("attach filter", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3", err)
	}
	// Room in front of each frame to put back a VLAN tag the NIC or the
	// kernel stripped (as libpcap does), so frames look as on the wire.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, vlanTagLen); err != nil {
		return fail("reserve", err)
	}
	l.blockSz = opt.BlockSize
	l.blockNr = opt.RingSize / opt.BlockSize
	req := unix.TpacketReq3{
		Block_size:     uint32(l.blockSz),
		Block_nr:       uint32(l.blockNr),
		Frame_size:     1 << 11,
		Frame_nr:       uint32(l.blockSz / (1 << 11) * l.blockNr),
		Retire_blk_tov: uint32(opt.BlockTimeout.Milliseconds()),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("receive ring", err)
	}
	ring, err := unix.Mmap(fd, 0, l.blockSz*l.blockNr, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED|unix.MAP_POPULATE)
	if err != nil {
		// MAP_LOCKED can fail under a low RLIMIT_MEMLOCK; try without.
		ring, err = unix.Mmap(fd, 0, l.blockSz*l.blockNr, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fail("mmap ring", err)
		}
	}
	l.ring = ring
	if opt.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail("eventfd", err)
	}
	return l, nil
}

const vlanTagLen = 4

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func liveErr(iface, what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("capture: live capture on %q needs CAP_NET_RAW (run as root or: setcap cap_net_raw+ep BINARY)", iface)
	}
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("capture: interface %q: no such interface", iface)
	}
	return fmt.Errorf("capture: live capture on %q: %s: %w", iface, what, err)
}

// ifaceLinkType maps the interface's ARPHRD type (from sysfs) to the link
// type of the frames an AF_PACKET SOCK_RAW socket returns.
func ifaceLinkType(iface string) (layers.LinkType, int) {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	if err != nil {
		return layers.LinkTypeEthernet, unix.ARPHRD_ETHER
	}
	t, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	switch t {
	case 65534, 776, 778, 823: // ARPHRD_NONE (tun, wireguard), SIT, IPGRE, IP6GRE
		return layers.LinkTypeRaw, t
	default: // ARPHRD_ETHER, ARPHRD_LOOPBACK and the rest
		return layers.LinkTypeEthernet, t
	}
}

// LinkType returns the link type of the frames this capture returns.
func (l *Live) LinkType() layers.LinkType { return l.linkType }

// ErrClosed is returned by ReadPacket after Close.
var ErrClosed = errors.New("capture: live capture closed")

const blockHdrStatus = 8 // offset of Hdr.Block_status in a block

func (l *Live) blockStatus(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&l.ring[b*l.blockSz+blockHdrStatus]))
}

// ReadPacket returns the next frame, waiting for one. After Close it
// returns io.EOF. The data is valid until the next call or Close.
func (l *Live) ReadPacket() ([]byte, CaptureInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.closed.Load() || l.ring == nil {
			return nil, CaptureInfo{}, io.EOF
		}
		if l.inBlock && l.left == 0 {
			// Hand the finished block back to the kernel.
			atomic.StoreUint32(l.blockStatus(l.block), unix.TP_STATUS_KERNEL)
			l.inBlock = false
			l.block = (l.block + 1) % l.blockNr
		}
		if !l.inBlock {
			if atomic.LoadUint32(l.blockStatus(l.block))&unix.TP_STATUS_USER == 0 {
				if err := l.poll(); err != nil {
					return nil, CaptureInfo{}, err
				}
				continue
			}
			hdr := (*unix.TpacketHdrV1)(unsafe.Pointer(&l.ring[l.block*l.blockSz+8]))
			l.inBlock = true
			l.left = hdr.Num_pkts
			l.next = l.block*l.blockSz + int(hdr.Offset_to_first_pkt)
			continue
		}
		end := (l.block + 1) * l.blockSz
		if l.next < 0 || l.next+unix.SizeofTpacket3Hdr > end {
			l.left = 0 // corrupt offsets: skip the rest of the block
			continue
		}
		hoff := l.next
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&l.ring[hoff]))
		start := l.next + int(h.Mac)
		n := int(h.Snaplen)
		wire := int(h.Len)
		if h.Status&unix.TP_STATUS_VLAN_VALID != 0 && l.linkType == layers.LinkTypeEthernet &&
			n >= 12 && int(h.Mac) >= unix.SizeofTpacket3Hdr+unix.SizeofSockaddrLinklayer+vlanTagLen {
			// Re-insert the stripped 802.1Q tag in the reserved room.
			tpid := uint16(0x8100)
			if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = h.Hv1.Vlan_tpid
			}
			tci := uint16(h.Hv1.Vlan_tci)
			copy(l.ring[start-vlanTagLen:], l.ring[start:start+12])
			start -= vlanTagLen
			t := l.ring[start+12 : start+16]
			t[0], t[1], t[2], t[3] = byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci)
			n += vlanTagLen
			wire += vlanTagLen
		}
		if n > l.snapLen {
			n = l.snapLen
		}
		if start+n > end {
			l.left = 0
			continue
		}
		l.left--
		if h.Next_offset != 0 {
			l.next += int(h.Next_offset)
		} else {
			l.left = 0
		}
		if l.loopback {
			// struct sockaddr_ll follows the header, TPACKET_ALIGNed;
			// sll_pkttype is its byte 10.
			const sllPkttype = (unix.SizeofTpacket3Hdr+unix.TPACKET_ALIGNMENT-1)&^(unix.TPACKET_ALIGNMENT-1) + 10
			if p := hoff + sllPkttype; p < end && l.ring[p] == unix.PACKET_OUTGOING {
				continue
			}
		}
		return l.ring[start : start+n : start+n], CaptureInfo{
			Timestamp:     int64(h.Sec)*1e9 + int64(h.Nsec),
			CaptureLength: n,
			Length:        wire,
			LinkType:      l.linkType,
		}, nil
	}
}

// poll waits until the current block is ready, Close is called, or the
// poll timeout passes (the caller then looks again).
func (l *Live) poll() error {
	fds := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}, {Fd: int32(l.wake), Events: unix.POLLIN}}
	_, err := unix.Poll(fds, 200)
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("capture: live capture on %q: poll: %w", l.iface, err)
	}
	if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		if fds[0].Revents&unix.POLLERR != 0 {
			// ENETDOWN and the like are reported through SO_ERROR.
			if e, _ := unix.GetsockoptInt(l.fd, unix.SOL_SOCKET, unix.SO_ERROR); e != 0 {
				return fmt.Errorf("capture: live capture on %q: %w", l.iface, syscall.Errno(e))
			}
		}
	}
	return nil
}

// LiveStats are the kernel's counters for a live capture since it opened.
type LiveStats struct {
	// Packets the socket saw after the filter (including the dropped
	// ones, like libpcap's ps_recv), and Drops: the packets the kernel
	// dropped because the ring was full.
	Packets, Drops uint64
}

// Stats returns the kernel's packet and drop counts since OpenLive. It is
// safe to call from any goroutine.
func (l *Live) Stats() (LiveStats, error) {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	if !l.closed.Load() {
		// The kernel resets its counters on every read; keep the sum.
		s, err := unix.GetsockoptTpacketStatsV3(l.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return LiveStats{}, fmt.Errorf("capture: live capture on %q: statistics: %w", l.iface, err)
		}
		l.packets.Add(uint64(s.Packets))
		l.drops.Add(uint64(s.Drops))
	}
	return LiveStats{Packets: l.packets.Load(), Drops: l.drops.Load()}, nil
}

// Close stops the capture. A ReadPacket blocked in another goroutine
// returns io.EOF promptly. Close is idempotent.
func (l *Live) Close() error {
	if l.closed.Load() {
		return nil
	}
	l.Stats() // keep the final counts
	l.closed.Store(true)
	if l.wake >= 0 {
		var one = [8]byte{1}
		unix.Write(l.wake, one[:])
	}
	l.mu.Lock() // wait for a running ReadPacket to leave the ring
	defer l.mu.Unlock()
	return l.release()
}

func (l *Live) release() error {
	var err error
	if l.ring != nil {
		err = unix.Munmap(l.ring)
		l.ring = nil
	}
	if l.wake >= 0 {
		unix.Close(l.wake)
		l.wake = -1
	}
	if l.fd >= 0 {
		if e := unix.Close(l.fd); err == nil {
			err = e
		}
		l.fd = -1
	}
	return err
}

var _ Source = (*Live)(nil)
