//go:build linux

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

func TestOpenLiveNoSuchInterface(t *testing.T) {
	_, err := OpenLive("eth9-vigil", LiveOptions{})
	if err == nil || err.Error() != `capture: interface "eth9-vigil": no such interface` {
		t.Fatalf("got %v", err)
	}
}

func TestCompileBPF(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: CompileBPF needs it")
	}
	prog, err := CompileBPF("udp port 5353", layers.LinkTypeEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	// tcpdump's program starts by loading the EtherType (ldh [12]) and ends
	// with "ret #262144; ret #0".
	if len(prog) < 4 || prog[0] != (BPFInstruction{Op: 0x28, K: 12}) ||
		prog[len(prog)-2] != (BPFInstruction{Op: 0x06, K: 262144}) || prog[len(prog)-1] != (BPFInstruction{Op: 0x06}) {
		t.Errorf("unexpected program %v", prog)
	}
	if _, err := CompileBPF("udp port", layers.LinkTypeEthernet, 0); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("bad expression: got %v", err)
	}
}

func TestParseBPF(t *testing.T) {
	for _, bad := range []string{"", "2\n1 2 3 4\n", "1\n1 2 3\n", "1\n70000 0 0 0\n", "x\n"} {
		if _, err := parseBPF(bad); err == nil {
			t.Errorf("parseBPF(%q) succeeded", bad)
		}
	}
	got, err := parseBPF("2\n6 0 0 65535\n6 0 0 0\n")
	if err != nil || len(got) != 2 || got[0] != (BPFInstruction{Op: 6, K: 65535}) {
		t.Errorf("got %v, %v", got, err)
	}
}

// TestLiveLoopback captures UDP datagrams it sends to itself on lo.
func TestLiveLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CAP_NET_RAW)")
	}
	if _, err := net.InterfaceByName("lo"); err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	opt := LiveOptions{BlockTimeout: 10 * time.Millisecond}
	filtered := false
	if _, err := exec.LookPath("tcpdump"); err == nil {
		opt.BPF = "udp dst port " + itoa(port)
		filtered = true
	} else {
		t.Log("tcpdump not installed: testing without a BPF filter")
	}
	l, err := OpenLive("lo", opt)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	const n = 50
	before := time.Now().UnixNano()
	go func() {
		s, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			return
		}
		defer s.Close()
		var b [8]byte
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint64(b[:], uint64(i))
			s.Write(b[:])
		}
	}()

	got, other := 0, 0
	deadline := time.AfterFunc(10*time.Second, func() { l.Close() })
	defer deadline.Stop()
	for got < n {
		data, ci, err := l.ReadPacket()
		if err != nil {
			t.Fatalf("after %d packets: %v", got, err)
		}
		// Ethernet(14) + IPv4(20) + UDP(8) + 8 bytes.
		if len(data) != 50 || binary.BigEndian.Uint16(data[12:]) != 0x0800 || data[23] != 17 ||
			int(binary.BigEndian.Uint16(data[36:])) != port {
			if filtered {
				t.Fatalf("the filter let through %x", data)
			}
			other++
			continue
		}
		if seq := binary.BigEndian.Uint64(data[42:]); seq != uint64(got) {
			t.Errorf("datagram %d out of order: %d", got, seq)
		}
		if ci.Timestamp < before-int64(time.Second) || ci.Timestamp > time.Now().UnixNano()+int64(time.Second) {
			t.Errorf("implausible timestamp %v", time.Unix(0, ci.Timestamp))
		}
		if ci.LinkType != layers.LinkTypeEthernet || ci.Length != 50 || ci.CaptureLength != 50 {
			t.Errorf("capture info %+v", ci)
		}
		got++
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets < n || st.Drops != 0 {
		t.Errorf("stats %+v, want at least %d packets and no drops", st, n)
	}

	// Close must unblock a ReadPacket waiting for traffic that never comes.
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if _, _, err := l.ReadPacket(); err != nil || i > 1000 {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("ReadPacket after Close: %v", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("Close took %v to unblock ReadPacket", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadPacket still blocked 2 s after Close")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLiveErrPrivilege(t *testing.T) {
	want := `capture: live capture on "eth0" needs CAP_NET_RAW (run as root or: setcap cap_net_raw+ep BINARY)`
	for _, e := range []error{unix.EPERM, unix.EACCES} {
		if got := liveErr("eth0", "socket", e); got.Error() != want {
			t.Errorf("%v: got %q", e, got)
		}
	}
	if got := liveErr("eth0", "bind", unix.ENODEV).Error(); got != `capture: interface "eth0": no such interface` {
		t.Errorf("ENODEV: got %q", got)
	}
}

// TestLiveVLAN sends an 802.1Q-tagged frame into one end of a veth pair,
// in a network namespace the test makes, and checks that Live returns it
// with its tag (the kernel strips tags on receive; Live puts them back).
func TestLiveVLAN(t *testing.T) {
	if os.Getenv("VIGIL_CAPTURE_VLAN_CHILD") == "1" {
		liveVLANChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
	ns := "vigil-capture-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable: %v: %s", err, out)
	}
	defer exec.Command(ip, "netns", "del", ns).Run()
	for _, args := range [][]string{
		{"link", "add", "vga", "type", "veth", "peer", "name", "vgb"},
		{"link", "set", "vga", "up"},
		{"link", "set", "vgb", "up"},
	} {
		if out, err := exec.Command(ip, append([]string{"netns", "exec", ns, ip}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestLiveVLAN$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_CAPTURE_VLAN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLiveVLAN") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func liveVLANChild(t *testing.T) {
	l, err := OpenLive("vgb", LiveOptions{BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	va, err := net.InterfaceByName("vga")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	frame := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, // dst, src
		0x81, 0x00, 0x00, 0x2a, // 802.1Q, VLAN 42
		0x88, 0xb5, // local experimental EtherType
	}
	frame = append(frame, []byte("vigil vlan test payload, padded to the minimum size")...)
	sa := &unix.SockaddrLinklayer{Ifindex: va.Index, Halen: 6}
	for i := 0; i < 3; i++ {
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			t.Fatal(err)
		}
	}
	time.AfterFunc(5*time.Second, func() { l.Close() })
	for {
		data, ci, err := l.ReadPacket()
		if err != nil {
			t.Fatalf("no tagged frame: %v", err)
		}
		if len(data) < 18 || data[16] != 0x88 || data[17] != 0xb5 {
			if bytes.Contains(data, []byte("vigil vlan")) {
				t.Fatalf("frame without its tag: %x", data)
			}
			continue // IPv6 router solicitations and the like
		}
		if !bytes.Equal(data, frame) || ci.Length != len(frame) {
			t.Fatalf("got %x (length %d), want %x", data, ci.Length, frame)
		}
		return
	}
}
