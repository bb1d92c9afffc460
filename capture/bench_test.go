package capture

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

func benchRead(b *testing.B, data []byte) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	pkts := 0
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), "bench", Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := r.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			pkts++
		}
	}
	if pkts == 0 {
		b.Fatal("no packets read")
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

// repeated returns the records of a pcap file repeated to about n bytes,
// so the benchmark measures the record loop rather than NewReader.
func repeated(b *testing.B, path string, n int) []byte {
	full, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	out := append([]byte(nil), full...)
	for len(out) < n {
		out = append(out, full[24:]...)
	}
	return out
}

func BenchmarkRead(b *testing.B) {
	b.Run("testdata", func(b *testing.B) {
		benchRead(b, repeated(b, "testdata/eth.pcap", 8<<20))
	})
	b.Run("mixed.pcap", func(b *testing.B) {
		data, err := os.ReadFile("../../shared/data/lab/mixed.pcap")
		if err != nil {
			b.Skipf("lab capture absent: %v", err)
		}
		benchRead(b, data)
	})
}

// BenchmarkOpen reads mixed.pcap through Open from the file system (page
// cache), which is what the commands do.
func BenchmarkOpen(b *testing.B) {
	const path = "../../shared/data/lab/mixed.pcap"
	st, err := os.Stat(path)
	if err != nil {
		b.Skipf("lab capture absent: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(st.Size())
	pkts := 0
	for b.Loop() {
		fs, err := Open([]string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := fs.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			pkts++
		}
		fs.Close()
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkOpenGzip reads a gzip'd copy of mixed.pcap; make it with
// gzip -c ../shared/data/lab/mixed.pcap > /tmp/mixed.pcap.gz.
func BenchmarkOpenGzip(b *testing.B) {
	const path = "/tmp/mixed.pcap.gz"
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s absent: %v", path, err)
	}
	b.ReportAllocs()
	pkts, bytes := 0, 0
	for b.Loop() {
		fs, err := Open([]string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			data, _, err := fs.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			pkts++
			bytes += len(data) + 16
		}
		fs.Close()
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s-uncompressed")
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkReadPcapgo is the reference: gopacket's pcapgo reader with
// ZeroCopyReadPacketData over the same bytes as BenchmarkRead/mixed.pcap.
func BenchmarkReadPcapgo(b *testing.B) {
	data, err := os.ReadFile("../../shared/data/lab/mixed.pcap")
	if err != nil {
		b.Skipf("lab capture absent: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	pkts := 0
	for b.Loop() {
		r, err := pcapgo.NewReader(bufio.NewReaderSize(bytes.NewReader(data), 1<<20))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := r.ZeroCopyReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			pkts++
		}
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
}
