package features_test

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
)

// udp returns an Ethernet frame with a UDP datagram of n payload bytes.
func udp(src, dst [4]byte, sport, dport uint16, n int) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src[:], DstIP: dst[:]}
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4},
		ip, u, gopacket.Payload(make([]byte, n)))
	return buf.Bytes()
}

func Example() {
	client, server := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	schema := features.FlowSchema()
	e := features.NewExtractor(features.Config{CommunityID: true}, func(r *features.Record) {
		fmt.Printf("%s:%d > %s:%d proto %d: %d+%d packets, %s\n", r.Src, r.Sport, r.Dst, r.Dport, r.Proto, r.FwdPackets, r.BwdPackets, r.Reason)
		for _, name := range []string{"flow_duration", "fwd_bytes", "bwd_pkt_len_mean", "down_up_ratio", "dport_well_known"} {
			fmt.Printf("  %s = %g\n", name, r.Vector[schema.Index(name)])
		}
	})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	packets := []struct {
		at   time.Duration
		data []byte
	}{
		{0, udp(client, server, 40000, 53, 30)},
		{2 * time.Millisecond, udp(server, client, 53, 40000, 90)},
		{5 * time.Millisecond, udp(server, client, 53, 40000, 110)},
	}
	for _, p := range packets {
		e.Process(p.data, capture.CaptureInfo{Timestamp: t0 + int64(p.at), Length: len(p.data), CaptureLength: len(p.data), LinkType: layers.LinkTypeEthernet})
	}
	e.Flush()
	fmt.Println(schema.Name, schema.Version, e.Stats().UDP.Packets)
	// Output:
	// 10.0.0.1:40000 > 10.0.0.2:53 proto 17: 1+2 packets, end-of-input
	//   flow_duration = 0.005
	//   fwd_bytes = 58
	//   bwd_pkt_len_mean = 100
	//   down_up_ratio = 2
	//   dport_well_known = 1
	// flow 6 3
}
