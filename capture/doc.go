// Package capture is the first stage of vigil's pipeline: it yields raw
// frames and their capture timestamps from files (pcap, pcapng, gzip'd
// either, directories of rotated files) and from live interfaces.
//
// A Source owns the buffer it returns; the data is valid until the next
// ReadPacket call.
package capture
