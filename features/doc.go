// Package features is the second stage of vigil's pipeline: it turns
// frames into flow feature vectors.
//
// An Extractor decodes each frame (gopacket DecodingLayerParsers over
// preallocated layers: Ethernet, 802.1Q/QinQ, Linux SLL and SLL2, BSD
// loopback, raw IP, ARP, IPv4, IPv6 with extension headers, TCP, UDP,
// ICMPv4, ICMPv6, and the DNS header; the commonest frame, Ethernet + IPv4
// without options, unfragmented, + TCP or UDP, takes a hand-written fast
// path that yields the same packet, payload and errors, pinned by
// TestFastPath and FuzzFastPath), updates a bidirectional flow in a
// bounded table, and emits a Record when a flow ends: idle or active
// timeout, TCP FIN from both sides or RST (after a short grace), eviction
// when the table is full, or Flush at the end of input. Time is the
// capture timestamps only, so a replay is deterministic. Each Record's
// Vector follows FlowSchema, a versioned Schema whose Hash identifies it;
// docs/features.md is generated from it.
//
// The table owns:
//   - flows in fixed-size chunks (about 272 bytes each) indexed by an
//     open-addressing hash index (8 bytes per slot, load ≤ 3/4): under
//     300 bytes of heap per active flow, measured by TestMemoryPerFlow;
//   - two intrusive lists through the flows, by last packet: open flows
//     (idle timeout) and closing TCP flows (grace), so expiry is O(1)
//     amortised per packet and eviction takes the oldest idle flow.
//
// Allocation: Process allocates nothing per packet once the table has
// grown to its working set (TestNoAllocs); emitting a record allocates
// only its Community ID string when Config.CommunityID is set. The Record
// and Vector passed to the emit callback are reused: copy what you keep.
// Malformed frames are counted per kind (DecodeError, a value type) in
// Stats and skipped; gopacket formats an error for some of them, which
// allocates on that frame only.
//
// CSVWriter and ParquetWriter write records as tables with IdentityColumns
// followed by the features, for cmd/extract and other commands;
// AsyncWriter formats CSV batches on other goroutines and writes them in
// order, and AppendFloat prints a float as strconv's shortest 'g' form
// does, without strconv for zeros, small integers and short decimals.
//
// The vector is built in two parts. The per-flow groups (volume, payload,
// timing, TCP, rate, activity, service and the application hints) are the
// entries of flowGroups, each with its part of the schema and an append
// function. The context features (contextFeatures: the source host's
// counts, the service's, beaconing) come last and are appended by the
// Extractor's host context, which also keeps the tables they are counted
// in. Adding, removing or changing a feature in either part bumps
// FlowSchemaVersion.
package features
