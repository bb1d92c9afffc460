package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// readAll reads a Source to its end and returns the packets' infos and
// the warnings issued.
func readAll(t testing.TB, s Source) []CaptureInfo {
	t.Helper()
	var out []CaptureInfo
	for i := 0; i < 1e7; i++ {
		data, ci, err := s.ReadPacket()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadPacket after %d packets: %v", len(out), err)
		}
		if len(data) != ci.CaptureLength {
			t.Fatalf("packet %d: len(data)=%d, CaptureLength=%d", len(out), len(data), ci.CaptureLength)
		}
		out = append(out, ci)
	}
	t.Fatal("more than 1e7 packets")
	return nil
}

// ns converts a capinfos/tshark epoch string with up to 9 decimals.
func ns(t testing.TB, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	tm, err := time.Parse("20060102", "19700101")
	if err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseDuration(sec + "s" + frac + "ns")
	if err != nil {
		t.Fatal(err)
	}
	return tm.Add(d).UnixNano()
}

// The counts and timestamps below were recorded with capinfos -T -c -a -e -S
// and tshark -T fields -e frame.time_epoch (Wireshark 4.0), independently of
// this package. See testdata/README.md for how each file was made.
var fileTests = []struct {
	path        string
	packets     int
	first, last string // epoch seconds; "" = not checked
	linkType    layers.LinkType
	warnings    int
}{
	{"testdata/eth.pcap", 20, "1795707273.184973", "1795707273.198869", layers.LinkTypeEthernet, 0},
	{"testdata/eth-ns.pcap", 20, "1795707273.184973000", "1795707273.198869000", layers.LinkTypeEthernet, 0},
	{"testdata/eth.pcapng", 20, "1795707273.184973", "1795707273.198869", layers.LinkTypeEthernet, 0},
	{"testdata/eth.pcap.gz", 20, "1795707273.184973", "1795707273.198869", layers.LinkTypeEthernet, 0},
	{"testdata/eth-pcapng.gz", 20, "1795707273.184973", "1795707273.198869", layers.LinkTypeEthernet, 0},
	{"testdata/eth-be.pcap", 10, "1795707273.184973", "1795707273.190765", layers.LinkTypeEthernet, 0},
	{"testdata/sll.pcap", 1, "1600392251.327631", "1600392251.327631", layers.LinkTypeLinuxSLL, 0},
	{"testdata/sll2.pcap", 10, "1795707273.184973", "1795707273.190765", layers.LinkType(276), 0},
	{"testdata/loop.pcap", 18, "1795707273.184990", "1795707273.198869", layers.LinkTypeLoop, 0},
	{"testdata/null.pcap", 1, "1776617953.939985", "1776617953.939985", layers.LinkTypeNull, 0},
	{"testdata/raw.pcap", 1, "1751997551.951226", "1751997551.951226", layers.LinkTypeRaw, 0},
	{"testdata/raw-ipv4.pcap", 1, "1751997572.592885", "1751997572.592885", layers.LinkTypeIPv4, 0},
	{"testdata/raw-ipv6.pcap", 1, "1751997566.204450", "1751997566.204450", layers.LinkTypeIPv6, 0},
	{"testdata/rotated", 20, "1795707273.184973", "1795707273.198869", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/be.pcap", 5, "3064.714590", "3064.896929", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/tcp-handshake-nano.pcap", 3, "1418145369.924505488", "1418145370.052115157", layers.LinkTypeLinuxSLL, 0},
	{"testdata/corpus/le-test001.pcapng", 4, "", "", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/be-test001.pcapng", 4, "", "", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/le-test902.pcapng", 1, "1519128000.1953125", "1519128000.1953125", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/be-test902.pcapng", 1, "1519128000.1953125", "1519128000.1953125", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/unsupported-link-type-160.pcap", 1, "", "", layers.LinkType(160), 0},
	// capinfos and tshark stop after the first packet of test901 (a custom
	// block they do not support); its three packet blocks are standard EPBs
	// around that custom block, which a reader must skip.
	{"testdata/corpus/le-test901.pcapng", 3, "", "", layers.LinkTypeEthernet, 0},
	{"testdata/corpus/be-test901.pcapng", 3, "", "", layers.LinkTypeEthernet, 0},
	// Cut short in its second record: capinfos reads 1 packet and warns.
	{"testdata/corpus/truncated_dns_2.pcap", 1, "1598792366.561863", "1598792366.561863", layers.LinkTypeEthernet, 1},
}

func TestOpenFiles(t *testing.T) {
	for _, tt := range fileTests {
		t.Run(tt.path, func(t *testing.T) {
			var warns []string
			fs, err := Open([]string{tt.path}, Options{Warn: func(s string) { warns = append(warns, s) }})
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			pkts := readAll(t, fs)
			if len(pkts) != tt.packets {
				t.Errorf("got %d packets, want %d", len(pkts), tt.packets)
			}
			if len(warns) != tt.warnings {
				t.Errorf("got warnings %q, want %d", warns, tt.warnings)
			}
			if len(pkts) == 0 {
				return
			}
			if pkts[0].LinkType != tt.linkType {
				t.Errorf("link type %v, want %v", pkts[0].LinkType, tt.linkType)
			}
			if tt.first != "" {
				if got, want := pkts[0].Timestamp, ns(t, tt.first); got != want {
					t.Errorf("first timestamp %d, want %d", got, want)
				}
				if got, want := pkts[len(pkts)-1].Timestamp, ns(t, tt.last); got != want {
					t.Errorf("last timestamp %d, want %d", got, want)
				}
			}
			for i := 1; i < len(pkts) && tt.path == "testdata/rotated"; i++ {
				if pkts[i].Timestamp < pkts[i-1].Timestamp {
					t.Fatalf("packet %d goes back in time", i)
				}
			}
			st := fs.Stats()
			if st.Packets != int64(tt.packets) || st.Warnings != int64(tt.warnings) || st.BytesRead != st.TotalBytes && !strings.HasSuffix(tt.path, ".gz") {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestMultiInterface checks per-packet link types in a pcapng file with
// three interfaces (tshark -T fields -e frame.interface_id -e frame.encap_type).
func TestMultiInterface(t *testing.T) {
	fs, err := Open([]string{"testdata/multi.pcapng"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for _, ci := range readAll(t, fs) {
		want := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeNull}[ci.InterfaceIndex]
		if ci.LinkType != want {
			t.Errorf("interface %d: link type %v, want %v", ci.InterfaceIndex, ci.LinkType, want)
		}
		count[ci.InterfaceIndex]++
	}
	if count[0] != 20 || count[1] != 1 || count[2] != 1 {
		t.Errorf("packets per interface %v, want 20/1/1", count)
	}

	// test006: interface 1 is BSD null (tshark encap 15), packet 2 only.
	fs, err = Open([]string{"testdata/corpus/le-test006.pcapng"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts := readAll(t, fs)
	if len(pkts) != 5 || pkts[1].InterfaceIndex != 1 || pkts[1].LinkType != layers.LinkTypeNull || pkts[0].LinkType != layers.LinkTypeEthernet {
		t.Errorf("test006: %+v", pkts)
	}
}

func TestRotatedOrder(t *testing.T) {
	fs, err := Open([]string{"testdata/rotated"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := fs.Paths()
	want := []string{filepath.Join("testdata/rotated", "b.pcap"), filepath.Join("testdata/rotated", "a.pcap")}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	os.WriteFile(filepath.Join(empty, ".hidden.pcap"), []byte("x"), 0o644)
	for _, tt := range []struct {
		paths []string
		want  string
	}{
		{nil, "capture: no input files"},
		{[]string{"testdata/corpus/malformed.pcap"}, `capture: open "testdata/corpus/malformed.pcap": not a pcap or pcapng file`},
		{[]string{"testdata/eth.pcap", "testdata/README.md"}, `capture: open "testdata/README.md": not a pcap or pcapng file`},
		{[]string{"testdata/nonexistent.pcap"}, `capture: open "testdata/nonexistent.pcap": no such file or directory`},
		{[]string{empty}, "directory has no capture files"},
	} {
		_, err := Open(tt.paths, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v, want %q", tt.paths, err, tt.want)
		}
	}
	if _, err := Open([]string{"testdata/corpus/malformed.pcap"}, Options{}); !errors.Is(err, ErrNotCapture) {
		t.Errorf("error %v does not wrap ErrNotCapture", err)
	}
}

// corrupt builds damaged versions of eth.pcap and eth.pcapng: every cut
// point must give the packets before it and at most one warning; an
// absurd length must end the file with a warning, not an allocation.
func TestTruncatedAndCorrupt(t *testing.T) {
	for _, name := range []string{"testdata/eth.pcap", "testdata/eth.pcapng", "testdata/eth-ns.pcap"} {
		full, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(full), name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		all := readAll(t, r)
		prev := 0
		for cut := len(full) - 1; cut >= 0; cut-- {
			warns := 0
			r, err := NewReader(bytes.NewReader(full[:cut]), name, Options{Warn: func(string) { warns++ }})
			if err != nil {
				continue // header cut: an error at open is right
			}
			got := readAll(t, r)
			if len(got) > len(all) || (cut < len(full)-1 && len(got) > prev && prev != 0) {
				t.Fatalf("cut %d: %d packets", cut, len(got))
			}
			for i := range got {
				if got[i] != all[i] {
					t.Fatalf("cut %d: packet %d differs", cut, i)
				}
			}
			if warns > 1 {
				t.Fatalf("cut %d: %d warnings", cut, warns)
			}
			prev = len(got)
		}
	}

	// An absurd captured length in the third pcap record.
	full, _ := os.ReadFile("testdata/eth.pcap")
	b := append([]byte(nil), full...)
	off := 24
	for i := 0; i < 2; i++ {
		off += 16 + int(le32(b[off+8:]))
	}
	copy(b[off+8:], []byte{0xff, 0xff, 0xff, 0x7f})
	var warns []string
	r, err := NewReader(bytes.NewReader(b), "big", Options{Warn: func(s string) { warns = append(warns, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); len(got) != 2 || len(warns) != 1 || !strings.Contains(warns[0], "captured length 2147483647") {
		t.Errorf("got %d packets, warnings %q", len(got), warns)
	}
}

func TestReadPacketAllocs(t *testing.T) {
	for _, name := range []string{"testdata/eth.pcap", "testdata/eth.pcapng", "testdata/eth.pcap.gz"} {
		full, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		big := full
		if !strings.HasSuffix(name, ".gz") {
			// Repeat the records so the loop never reaches EOF.
			hdr := 24
			if strings.HasSuffix(name, ".pcapng") {
				hdr = int(le32(full[4:])) + int(le32(full[int(le32(full[4:]))+4:])) // SHB + IDB
			}
			big = append([]byte(nil), full...)
			for len(big) < 1<<20 {
				big = append(big, full[hdr:]...)
			}
		}
		r, err := NewReader(bytes.NewReader(big), name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := 15
		if strings.HasSuffix(name, ".gz") {
			n = 15 // 20 packets in the file; one is read by AllocsPerRun's warm-up
		}
		allocs := testing.AllocsPerRun(n, func() {
			if _, _, err := r.ReadPacket(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per packet", name, allocs)
		}
	}
}

// TestCorpus reads every file of the shared robustness corpus when it is
// present, and the copies in testdata/corpus always.
func TestCorpus(t *testing.T) {
	walk := func(t *testing.T, root string) int {
		n := 0
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n++
			done := make(chan struct{})
			go func() {
				defer close(done)
				r, err := os.Open(p)
				if err != nil {
					t.Error(err)
					return
				}
				defer r.Close()
				rd, err := NewReader(r, p, Options{})
				if err != nil {
					if !strings.HasPrefix(err.Error(), "capture: ") {
						t.Errorf("%s: unclear error %v", p, err)
					}
					return
				}
				for i := 0; i < 1e6; i++ {
					if _, _, err := rd.ReadPacket(); err != nil {
						if err != io.EOF {
							t.Errorf("%s: %v", p, err)
						}
						return
					}
				}
				t.Errorf("%s: more than 1e6 packets", p)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no end after 5 s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("testdata", func(t *testing.T) {
		if n := walk(t, "testdata/corpus"); n < 10 {
			t.Errorf("only %d files in testdata/corpus", n)
		}
	})
	t.Run("shared", func(t *testing.T) {
		const root = "../../shared/data/parser-robustness-corpus"
		if _, err := os.Stat(root); err != nil {
			t.Skipf("shared corpus absent: %v", err)
		}
		if n := walk(t, root); n < 961 {
			t.Errorf("walked %d files, want at least 961", n)
		}
	})
}

// TestStatsConcurrent reads Stats from another goroutine while reading, as
// a progress bar does (run with -race).
func TestStatsConcurrent(t *testing.T) {
	fs, err := Open([]string{"testdata/rotated", "testdata/eth.pcap.gz"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan Stats)
	go func() {
		var last Stats
		for {
			select {
			case <-stop:
				done <- last
				return
			default:
				s := fs.Stats()
				if s.BytesRead < last.BytesRead || s.Packets < last.Packets {
					t.Errorf("stats went backwards: %+v after %+v", s, last)
				}
				last = s
			}
		}
	}()
	n := len(readAll(t, fs))
	close(stop)
	<-done
	st := fs.Stats()
	// 20 + 20 packets; every byte of the three files consumed.
	if n != 40 || st.Packets != 40 || st.Files != 3 || st.FilesOpened != 3 || st.BytesRead != st.TotalBytes {
		t.Errorf("%d packets, stats %+v", n, st)
	}
}

// TestOpenStdin runs the test binary as a child with a capture on its
// standard input.
func TestOpenStdin(t *testing.T) {
	if os.Getenv("VIGIL_CAPTURE_STDIN_CHILD") == "1" {
		fs, err := Open([]string{"testdata/rotated/a.pcap", "-"}, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		pkts := readAll(t, fs)
		fmt.Printf("paths=%v packets=%d first=%d\n", fs.Paths(), len(pkts), pkts[0].Timestamp)
		os.Exit(0)
	}
	in, err := os.Open("testdata/eth.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenStdin$")
	cmd.Env = append(os.Environ(), "VIGIL_CAPTURE_STDIN_CHILD=1")
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// stdin (20 packets) comes first, then a.pcap (10).
	want := "paths=[- testdata/rotated/a.pcap] packets=30 first=" + strconv.FormatInt(ns(t, "1795707273.184973"), 10)
	if !strings.Contains(string(out), want) {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestCorruptPcapNG damages the second packet block of eth.pcapng in ways
// that must end the file with one warning after one packet.
func TestCorruptPcapNG(t *testing.T) {
	full, err := os.ReadFile("testdata/eth.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	shb := int(le32(full[4:]))
	idb := int(le32(full[shb+4:]))
	first := shb + idb
	second := first + int(le32(full[first+4:]))
	if le32(full[first:]) != ngBlockEPB || le32(full[second:]) != ngBlockEPB {
		t.Fatal("eth.pcapng does not start with SHB, IDB, EPB, EPB")
	}
	for _, tt := range []struct {
		name string
		off  int // offset in the second block
		val  uint32
		want string
	}{
		{"block length huge", 4, 0xfffffff0, "corrupt block"},
		{"block length odd", 4, 13, "corrupt block"},
		{"block length over bound", 4, 1 << 20, "exceeds"},
		{"captured length over block", 20, 10000, "captured length 10000"},
		{"interface unknown", 8, 7, "names interface 7"},
		{"interface huge", 8, 0xffffffff, "names interface"},
	} {
		b := append([]byte(nil), full...)
		binary.LittleEndian.PutUint32(b[second+tt.off:], tt.val)
		var warns []string
		r, err := NewReader(bytes.NewReader(b), tt.name, Options{Warn: func(s string) { warns = append(warns, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, r); len(got) != 1 || len(warns) != 1 || !strings.Contains(warns[0], tt.want) {
			t.Errorf("%s: %d packets, warnings %q", tt.name, len(got), warns)
		}
	}
	// An unknown block type is skipped, whatever its content.
	b := append([]byte(nil), full...)
	binary.LittleEndian.PutUint32(b[second:], 0x0badbeef)
	r, _ := NewReader(bytes.NewReader(b), "unknown", Options{Warn: func(s string) { t.Error(s) }})
	if got := readAll(t, r); len(got) != 19 {
		t.Errorf("unknown block: %d packets, want 19", len(got))
	}
}

// TestHeaderReadError: a read error inside a file header is reported as
// that error, not as a short or foreign file.
func TestHeaderReadError(t *testing.T) {
	disk := errors.New("disk went away")
	pcapMagic := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0} // pcap, µs, little-endian: 8 of 24 header bytes
	ngStart := []byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0}  // SHB type and length: 8 of its first 12 bytes
	for name, head := range map[string][]byte{"pcap": pcapMagic, "pcapng": ngStart} {
		r := io.MultiReader(bytes.NewReader(head), iotest.ErrReader(disk))
		_, err := NewReader(r, name, Options{})
		if !errors.Is(err, disk) {
			t.Errorf("%s: %v, want the read error", name, err)
		}
	}
}
