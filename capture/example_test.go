package capture_test

import (
	"fmt"
	"io"
	"log"
	"time"

	"github.com/vigil-nids/vigil/capture"
)

// Open reads a directory of rotated captures in time order, whatever the
// files are called. (The times agree with capinfos -a -e on the two files.)
func ExampleOpen() {
	src, err := capture.Open([]string{"testdata/rotated"}, capture.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	n := 0
	var first, last int64
	for {
		_, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			first = ci.Timestamp
		}
		last = ci.Timestamp
		n++
	}
	fmt.Println(src.Paths())
	fmt.Println(n, "packets from", time.Unix(0, first).UTC().Format(time.StampMicro), "to", time.Unix(0, last).UTC().Format(time.StampMicro))
	st := src.Stats()
	fmt.Println(st.Files, "files,", st.Warnings, "warnings")
	// Output:
	// [testdata/rotated/b.pcap testdata/rotated/a.pcap]
	// 20 packets from Nov 26 15:34:33.184973 to Nov 26 15:34:33.198869
	// 2 files, 0 warnings
}

// OpenLive captures from an interface; it needs CAP_NET_RAW, so this
// example has no output to check.
func ExampleOpenLive() {
	src, err := capture.OpenLive("eth0", capture.LiveOptions{BPF: "tcp or udp"})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	for i := 0; i < 10; i++ {
		data, ci, err := src.ReadPacket()
		if err != nil {
			break
		}
		fmt.Println(time.Unix(0, ci.Timestamp).UTC(), len(data))
	}
	st, _ := src.Stats()
	fmt.Println(st.Packets, "received,", st.Drops, "dropped by the kernel")
}
