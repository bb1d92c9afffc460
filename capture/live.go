package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// LiveOptions configure OpenLive. The zero value captures whole frames,
// unfiltered, not promiscuous.
type LiveOptions struct {
	// BPF is a filter in tcpdump syntax ("udp port 53"); empty means none.
	// See CompileBPF for how it is compiled.
	BPF string
	// SnapLen bounds the bytes kept of each frame (default 262144).
	SnapLen int
	// Promisc puts the interface in promiscuous mode while open.
	Promisc bool
	// RingSize is the size of the kernel receive ring in bytes (default
	// 32 MiB); BlockSize the size of one ring block (default 1 MiB, a
	// power of two of at least the page size). A larger ring absorbs
	// longer bursts before the kernel drops.
	RingSize, BlockSize int
	// BlockTimeout is how long the kernel waits before handing over a
	// block that is not full (default 50 ms): the latency at low rates.
	BlockTimeout time.Duration
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.SnapLen <= 0 || o.SnapLen > DefaultMaxCaptureLength {
		o.SnapLen = DefaultMaxCaptureLength
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 1 << 20
	}
	if o.BlockSize < o.SnapLen+4096 {
		// A block must hold the largest frame.
		for o.BlockSize < o.SnapLen+4096 {
			o.BlockSize <<= 1
		}
	}
	if o.RingSize <= 0 {
		o.RingSize = 32 << 20
	}
	if o.RingSize < 2*o.BlockSize {
		o.RingSize = 2 * o.BlockSize
	}
	if o.BlockTimeout <= 0 {
		o.BlockTimeout = 50 * time.Millisecond
	}
	return o
}

// BPFInstruction is one classic BPF instruction (struct sock_filter).
type BPFInstruction struct {
	Op     uint16
	Jt, Jf uint8
	K      uint32
}

// ErrNoTcpdump is returned (wrapped) by CompileBPF when tcpdump is not
// installed.
var ErrNoTcpdump = errors.New("compiling a --bpf filter needs tcpdump installed (apt-get install tcpdump)")

// CompileBPF compiles a tcpdump filter expression for frames of the given
// link type, returning at most snapLen bytes of each accepted frame.
//
// The choice: vigil builds with CGO_ENABLED=0, so libpcap's compiler
// (pcap_compile) is out of reach, and the pure-Go compilers available
// cover only a subset of the grammar and would need a new dependency.
// CompileBPF runs `tcpdump -ddd` (libpcap's own compiler, so every
// expression means exactly what it means to tcpdump) on a pcap header
// piped to its standard input, and parses the decimal instructions it
// prints. It needs tcpdump installed; without it, it fails with an error
// wrapping ErrNoTcpdump. No privilege is needed.
func CompileBPF(expr string, linkType layers.LinkType, snapLen int) ([]BPFInstruction, error) {
	if snapLen <= 0 {
		snapLen = DefaultMaxCaptureLength
	}
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, fmt.Errorf("capture: bpf %q: %w", expr, ErrNoTcpdump)
	}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], magicMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], uint32(snapLen))
	binary.LittleEndian.PutUint32(hdr[20:], uint32(linkType))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-ddd", "-s", strconv.Itoa(snapLen), "-r", "-", "--", expr)
	cmd.Stdin = bytes.NewReader(hdr[:])
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := ""
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(line, "tcpdump: ") {
				msg = strings.TrimPrefix(line, "tcpdump: ")
			}
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("capture: bpf %q: %s", expr, msg)
	}
	return parseBPF(stdout.String())
}

// parseBPF parses tcpdump -ddd output: a count line, then one
// "op jt jf k" line per instruction.
func parseBPF(s string) ([]BPFInstruction, error) {
	rows := strings.Split(strings.TrimSpace(s), "\n")
	if len(rows) < 2 {
		return nil, fmt.Errorf("capture: bpf: unexpected tcpdump output %q", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(rows[0]))
	if err != nil || n != len(rows)-1 || n > 4096 {
		return nil, fmt.Errorf("capture: bpf: unexpected tcpdump output %q", s)
	}
	out := make([]BPFInstruction, 0, n)
	for _, row := range rows[1:] {
		f := strings.Fields(row)
		if len(f) != 4 {
			return nil, fmt.Errorf("capture: bpf: unexpected tcpdump line %q", row)
		}
		var v [4]uint64
		for i, bits := range []int{16, 8, 8, 32} {
			if v[i], err = strconv.ParseUint(f[i], 10, bits); err != nil {
				return nil, fmt.Errorf("capture: bpf: unexpected tcpdump line %q", row)
			}
		}
		out = append(out, BPFInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	return out, nil
}
