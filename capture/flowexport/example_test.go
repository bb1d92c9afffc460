package flowexport_test

import (
	"fmt"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/capture/flowexport"
)

// Read a capture of IPFIX export datagrams (as tcpdump -w on the collector
// port saves it) and total what the exporter reported.
func Example() {
	src, err := capture.Open([]string{"testdata/softflowd-ipfix.pcap"}, capture.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	c := flowexport.New(flowexport.Config{})
	recs, err := c.ReadAll(nil, src)
	if err != nil {
		fmt.Println(err)
		return
	}
	var packets, bytes uint64
	for _, r := range recs {
		packets += r.Packets
		bytes += r.Bytes
	}
	st := c.Stats()
	fmt.Println(st.Datagrams, "datagrams,", len(recs), "records,", packets, "packets,", bytes, "bytes,", st.Templates, "templates")
	// Output: 22 datagrams, 664 records, 14038 packets, 11771719 bytes, 5 templates
}
