// Package capture is the first stage of vigil's pipeline: it yields raw
// frames and their capture timestamps from files and from live
// interfaces. Everything downstream sees only the Source interface.
//
// # What it owns
//
//   - Files (Open): pcap (micro- and nanosecond timestamps, either byte
//     order, and the 24-byte-record "modified" variant), pcapng (several
//     sections and byte orders, several interfaces with different link
//     types; unknown blocks skipped; if_tsresol and if_tsoffset honoured),
//     and gzip of either, sniffed from the content, never the file name.
//     A path may be a directory: its regular files (not recursively,
//     names starting with '.' skipped) are read, all files in the order of
//     their first packet's timestamp.
//   - One stream (NewReader): the same formats from any io.Reader, for
//     standard input and fuzzing.
//   - Live capture (OpenLive, Linux): an AF_PACKET socket with a
//     TPACKET_V3 memory-mapped ring, pure Go, with a BPF filter compiled
//     by tcpdump (see CompileBPF for why) and the kernel's drop counters.
//
// The time of a packet is its capture timestamp, in nanoseconds since the
// Unix epoch; nothing here reads the wall clock for pipeline logic.
//
// # Buffer ownership and allocation
//
// ReadPacket returns a slice into the Source's own buffer (the read buffer
// of a Reader or Files, the kernel ring of a Live), valid only until the
// next ReadPacket call (or Close); copy it to keep it. In exchange
// ReadPacket allocates nothing and copies nothing per packet: file readers
// read the input in large chunks (1 MiB by default) and parse records in
// place, which reaches several GB/s from memory (BenchmarkRead); Live
// walks the ring the kernel filled, with no system call per packet.
// Opening allocates the read buffer (and a second one and a decompressor
// for gzip input). Files reads each file on a second goroutine, a chunk
// ahead of the parsing (three 1.3 MiB buffers), so the read system calls
// and gzip inflation overlap with the caller's work; a record that
// straddles two chunks is the only data copied, a few bytes. (Mapping
// the file instead was measured no faster, and a file truncated while
// mapped would crash the process.)
//
// # Bad input
//
// A header that is not a capture is an error from Open or NewReader that
// names the file (wrapping ErrNotCapture), so a command can refuse before
// doing any work. Damage after the header is not an error: a file cut
// short yields every packet before the cut, then one warning
// (Options.Warn, Stats.Warnings) and io.EOF. A record whose length is
// absurd (over Options.MaxCaptureLength, 256 KiB by default, or larger
// than its pcapng block) is treated as corruption the same way, without
// allocating or reading it; with Files, reading then goes on with the next
// file. No input makes a reader panic, loop or allocate more than its
// buffer (FuzzReader, and TestCorpus over 961 odd and malformed captures).
package capture
