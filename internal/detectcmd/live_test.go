//go:build linux

package detectcmd

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/models/bundle"
)

// The live tests capture on one end of a veth pair inside a network
// namespace they make, and replay the sample mixed capture into the other
// end with an AF_PACKET socket: no traffic leaves the namespace.

// liveFrames bounds the frames replayed: the first 30000 of the mixed cut
// hold the beaconing, the SYN port scan, the service scan and the start of
// the SYN flood.
const liveFrames = 30000

// newNetns makes a network namespace with a veth pair va <-> vb, both up,
// IPv6 off (so the kernel sends nothing of its own on them), and removes
// it when the test ends.
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture test needs root (network namespace, veth pair, AF_PACKET)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("live capture test needs ip (iproute2) for network namespaces")
	}
	ns := fmt.Sprintf("vigil-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable: ip netns add: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	for _, args := range [][]string{
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb"},
		{"ip", "-n", ns, "link", "set", "va", "up"},
		{"ip", "-n", ns, "link", "set", "vb", "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			if args[3] == "sysctl" {
				t.Logf("%v: %v: %s (IPv6 left on)", args, err, out)
				continue
			}
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	return ns
}

// inNetns runs f on a goroutine locked to an OS thread that has joined
// the namespace ns. The thread is never unlocked: when the goroutine ends,
// the runtime terminates it rather than reuse a thread in another
// namespace.
func inNetns(ns string, f func() error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return errc
}

// frame is one replayed frame and its 5-tuple.
type frame struct {
	data []byte
	t    tuple
	ok   bool // t is valid (IPv4)
}

// loadFrames reads up to max frames of path, each padded with zeros back
// to its wire length (the sample is cut to 200 bytes a packet), skipping
// frames longer than the veth's MTU allows.
func loadFrames(t *testing.T, path string, max int) []frame {
	t.Helper()
	src, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []frame
	for len(out) < max {
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Length > 1514 || ci.Length < len(data) || len(data) < 14 {
			continue
		}
		f := frame{data: make([]byte, ci.Length)}
		copy(f.data, data)
		f.t, f.ok = frameTuple(f.data)
		out = append(out, f)
	}
	return out
}

// packetSocketOn reports whether the calling thread's namespace has an
// AF_PACKET socket receiving every protocol (ETH_P_ALL) on ifindex.
func packetSocketOn(ifindex int) bool {
	b, err := os.ReadFile("/proc/thread-self/net/packet")
	if err != nil {
		return false
	}
	// sk RefCnt Type Proto Iface R Rmem User Inode
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) >= 5 && f[3] == "0003" && f[4] == fmt.Sprint(ifindex) {
			return true
		}
	}
	return false
}

// replay waits (up to 10 s) for a capture socket on va, then writes the
// frames into vb through an AF_PACKET socket, pacing them so that the
// capture's ring does not overflow. It runs inside the namespace.
func replay(frames []frame) error {
	va, err := net.InterfaceByName("va")
	if err != nil {
		return err
	}
	vb, err := net.InterfaceByName("vb")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !packetSocketOn(va.Index) {
		if time.Now().After(deadline) {
			return fmt.Errorf("detect opened no capture socket on va within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Protocol 0: this socket only sends.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("send socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: vb.Index}); err != nil {
		return fmt.Errorf("bind vb: %w", err)
	}
	for i, f := range frames {
		etype := binary.BigEndian.Uint16(f.data[12:])
		to := &unix.SockaddrLinklayer{Ifindex: vb.Index, Protocol: etype<<8 | etype>>8, Halen: 6}
		copy(to.Addr[:], f.data[:6])
		if err := unix.Sendto(fd, f.data, 0, to); err != nil {
			return fmt.Errorf("send frame %d (%d bytes): %w", i, len(f.data), err)
		}
		if i%200 == 199 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

type liveRun struct {
	r        result
	alerts   []*eveAlert
	sum      summaryJSON
	sent     []frame
	duration time.Duration
}

// runLive runs detect on va inside a new namespace with extra flags,
// replays frames into vb, waits for the capture to drain, cancels the
// run's signal context (SIGTERM) and reads what came out. Of the frames,
// pass get through the run's capture filter (all of them without one).
func runLive(t *testing.T, model string, b *bundle.Bundle, frames, pass []frame, extra ...string) liveRun {
	t.Helper()
	ns := newNetns(t)
	dir := t.TempDir()
	alerts, sum := filepath.Join(dir, "alerts.json"), filepath.Join(dir, "summary.json")
	term, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
		Signals: func(parent context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(parent)
			stop := context.AfterFunc(term, cancel)
			return ctx, func() { stop(); cancel() }
		}}
	args := flowMode(append([]string{"--model", model, "--iface", "va", "--alerts", alerts, "--summary", sum}, extra...))
	start := time.Now()
	var code int
	detectDone := inNetns(ns, func() error {
		code = cli.Run(New(env), args, &stderr)
		return nil
	})
	replayDone := inNetns(ns, func() error { return replay(frames) })
	var replayErr error
	select {
	case replayErr = <-replayDone:
	case <-detectDone:
		t.Fatalf("detect ended before the replay: exit %d: %s", code, stderr.String())
	}
	if replayErr != nil {
		sigterm()
		<-detectDone
		t.Fatalf("replay: %v (detect: exit %d: %s)", replayErr, code, stderr.String())
	}
	// Let the capture read what the kernel holds (its ring hands over a
	// block at the latest 50 ms after the last frame), then stop.
	time.Sleep(time.Second)
	sigterm()
	select {
	case <-detectDone:
	case <-time.After(20 * time.Second):
		t.Fatal("detect did not stop within 20 s of SIGTERM")
	}
	lr := liveRun{r: result{code, stdout.String(), stderr.String()}, sent: frames, duration: time.Since(start)}
	if code != 0 {
		t.Fatalf("detect --iface va: exit %d: %s", code, stderr.String())
	}
	lr.sum = readSummary(t, sum)
	lr.alerts = readAlerts(t, alerts, b.Thresholds.Ensemble, b.Hash(), 5)
	t.Logf("replayed %d frames; summary: %d packets, %d kernel drops, %d internal drops, %d flows, %d alerts; %v",
		len(frames), *lr.sum.Packets, *lr.sum.Dropped.Kernel, *lr.sum.Dropped.Internal, *lr.sum.Flows, *lr.sum.Alerts, lr.duration)
	if !strings.Contains(lr.r.stderr, "dropped   kernel ") {
		t.Errorf("no human summary with kernel drops on stderr: %q", lr.r.stderr)
	}
	// No alert lost: every alert the run counted is in the file.
	if *lr.sum.Alerts != uint64(len(lr.alerts)) {
		t.Errorf("summary: %d alerts, the alerts file has %d lines", *lr.sum.Alerts, len(lr.alerts))
	}
	// Every frame that passes the filter was captured or counted as
	// dropped, and nothing else was captured.
	if got := *lr.sum.Packets + *lr.sum.Dropped.Kernel; *lr.sum.Packets == 0 || got < uint64(len(pass)) || *lr.sum.Packets > uint64(len(pass)) {
		t.Errorf("sent %d frames of which %d pass the filter; captured %d and %d kernel drops",
			len(frames), len(pass), *lr.sum.Packets, *lr.sum.Dropped.Kernel)
	}
	// The replay lasts a few seconds, far less than the flows' idle
	// timeout: most flows are still open at SIGTERM, and only the
	// shutdown's final scoring of every open flow gives each 5-tuple
	// (IPv4 here) its final record.
	tuples := map[tuple]bool{}
	for _, f := range pass {
		if f.ok {
			tuples[f.t] = true
		}
	}
	if *lr.sum.Dropped.Kernel == 0 && *lr.sum.Flows < uint64(len(tuples)) {
		t.Errorf("summary: %d final flow records, but %d distinct 5-tuples were captured: open flows were not scored at SIGTERM",
			*lr.sum.Flows, len(tuples))
	}
	return lr
}

func TestLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture test needs root (network namespace, veth pair, AF_PACKET)")
	}
	model := trainModel(t, t.TempDir())
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, mixed, liveFrames)
	lr := runLive(t, model, b, frames, frames)

	// The replayed attacks alert: the SYN port scan and flood from
	// 10.77.0.66 to 10.77.0.10 are one-packet flows each; most must alert,
	// and flows between other hosts mostly must not.
	attacker, victim := netip.MustParseAddr("10.77.0.66"), netip.MustParseAddr("10.77.0.10")
	attack := func(tu tuple) bool { return tu.a == attacker && tu.b == victim || tu.a == victim && tu.b == attacker }
	sentTuples := map[tuple]bool{}
	for _, f := range frames {
		if f.ok {
			sentTuples[f.t] = true
		}
	}
	alerted := map[tuple]bool{}
	for _, a := range lr.alerts {
		tu := canon(a.src, a.sp, a.dst, a.dp, a.proto)
		if !sentTuples[tu] {
			t.Fatalf("alert for a flow that was not replayed: %+v", tu)
		}
		alerted[tu] = true
	}
	var nAttack, aAttack, nOther, aOther int
	for tu := range sentTuples {
		if attack(tu) {
			nAttack++
			if alerted[tu] {
				aAttack++
			}
		} else {
			nOther++
			if alerted[tu] {
				aOther++
			}
		}
	}
	t.Logf("attacker<->victim: %d of %d 5-tuples alerted; other hosts: %d of %d", aAttack, nAttack, aOther, nOther)
	if nAttack == 0 || float64(aAttack) < 0.9*float64(nAttack) {
		t.Errorf("attacker<->victim: %d of %d 5-tuples alerted, want >= 90%%", aAttack, nAttack)
	}
	if float64(aOther) > 0.2*float64(nOther) {
		t.Errorf("other hosts: %d of %d 5-tuples alerted, want <= 20%%", aOther, nOther)
	}
}

func TestLiveBPF(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture test needs root (network namespace, veth pair, AF_PACKET)")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("--bpf is compiled with tcpdump, which is not installed")
	}
	model := trainModel(t, t.TempDir())
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	frames := loadFrames(t, mixed, liveFrames/2)
	// What "tcp port 80" passes, counted by hand.
	var port80 []frame
	for _, f := range frames {
		if f.ok && f.t.proto == 6 && (f.t.aPort == 80 || f.t.bPort == 80) {
			port80 = append(port80, f)
		}
	}
	if len(port80) == 0 || len(port80) == len(frames) {
		t.Fatalf("%d of %d frames are TCP port 80: the filter would test nothing", len(port80), len(frames))
	}
	lr := runLive(t, model, b, frames, port80, "--bpf", "tcp port 80")
	if len(lr.alerts) == 0 {
		t.Fatal("no alerts on port 80 (the SYN flood and the scans' port 80 probes should raise some)")
	}
	for _, a := range lr.alerts {
		if a.Proto != "TCP" || a.sp != 80 && a.dp != 80 {
			t.Fatalf("--bpf 'tcp port 80' let through a %s flow %v:%d -> %v:%d", a.Proto, a.src, a.sp, a.dst, a.dp)
		}
	}
}
