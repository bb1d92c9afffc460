// Command record listens on a loopback UDP port and writes every datagram
// it receives to a pcap (LINKTYPE_RAW, IPv4/UDP headers rebuilt from the
// sender's and the listener's addresses), like `tcpdump -i lo -w FILE udp
// port PORT` would on a machine with tcpdump. It stops after -idle without
// a datagram or after -max datagrams. Used to make this directory's
// captures of real exporters (see README.md).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9995", "UDP address")
	out := flag.String("w", "", "pcap to write")
	idle := flag.Duration("idle", 3*time.Second, "stop after this long without a datagram")
	maxN := flag.Int("max", 1000000, "stop after this many datagrams")
	flag.Parse()
	conn, err := net.ListenUDP("udp", mustAddr(*listen))
	if err != nil {
		log.Fatal(err)
	}
	if err := conn.SetReadBuffer(32 << 20); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 101)
	f.Write(hdr)
	buf := make([]byte, 65535)
	n := 0
	local := conn.LocalAddr().(*net.UDPAddr)
	for n < *maxN {
		conn.SetReadDeadline(time.Now().Add(*idle))
		k, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		now := time.Now()
		pkt := make([]byte, 28+k)
		pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(pkt[2:], uint16(28+k))
		copy(pkt[12:16], from.IP.To4())
		copy(pkt[16:20], local.IP.To4())
		binary.BigEndian.PutUint16(pkt[20:], uint16(from.Port))
		binary.BigEndian.PutUint16(pkt[22:], uint16(local.Port))
		binary.BigEndian.PutUint16(pkt[24:], uint16(8+k))
		copy(pkt[28:], buf[:k])
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(now.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(now.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(pkt)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(pkt)))
		f.Write(rec)
		f.Write(pkt)
		n++
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "record: %d datagrams to %s\n", n, *out)
}

func mustAddr(s string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		log.Fatal(err)
	}
	return a
}
