// Package detect is the last stage of vigil's pipeline: it runs captured
// or live packets through the flow feature extractor, scores every flow
// record with a trained model, and writes alerts (EVE-style JSON lines),
// a pcap of the anomalous flows, Prometheus metrics and a run summary.
//
// # Life of a packet
//
//	capture.Source ──ReadPacket──▶ capture goroutine (Run's own)
//	    │  [realtime: pace to capture timestamps with Config.Clock]
//	    │  anomaly-pcap ring: copy + flow hash        (bounded: PcapRingBytes)
//	    │  Extractor.Process ──emit(*features.Record)──┐
//	    │                                              ▼
//	    │            pick the queue by flow key hash (the records of a
//	    │            flow stay in order); copy Vector into that queue's
//	    │            open batch (pooled); send it when full (Block: 64
//	    │            records; otherwise every record at once)
//	    │                                              │
//	    │       DROP POINT 1: queue full → vector dropped, counted in
//	    │       Summary.Dropped.Internal (unless Config.Block; never while
//	    │       flushing at the end)
//	    ▼                                              ▼
//	  worker queues (Workers × ~QueueLen records) ──▶ scoring workers, one
//	    Scorer each: the whole batch scored at once when the Scorer can
//	    (the bundle's ScoreRows, equal to Score bit for bit), then per
//	    record in order: threshold → dedup (per flow key and Seq; a repeat
//	    needs a score RealertMargin higher) → Explain (of the vector just
//	    scored, without scoring it again) → *Alert
//	                                                   │ (blocking channel:
//	                                                   │ a batch's alerts)
//	                                                   ▼
//	  alert goroutine: every Sink in order; marks the flow for the pcap
//	                                                   │
//	  capture goroutine, next packet: write the flow's packets from the
//	  ring, then follow it. DROP POINT 2: packets evicted from the ring
//	  before the alert, or past PcapMaxPerFlow, are not written
//	  (Summary.Dropped.Pcap).
//
// The kernel's drops (live capture) come from Config.KernelStats.
//
// On ctx cancellation, io.EOF or a read error, Run stops reading, flushes
// the extractor (every open flow is scored, waiting for queue space),
// drains the queues, sends every alert, flushes the pcap, closes the sinks
// and returns the Summary. No alert is lost to a SIGINT.
//
// # Clocks
//
// Flows live on capture timestamps. Config.Clock (the wall clock in
// cmd/detect, a fake in tests) is read only to pace Realtime replay, to
// measure elapsed time and scoring latency.
//
// # Allocation
//
// A packet that emits no record allocates nothing on the capture
// goroutine (TestNoAllocsPerPacket). An emitted record is copied into a
// pooled batch. Alerts come from per-worker slabs of 64 (alertBox, with
// the Community ID's bytes inside), plus one []TopFeature per explained
// memo slot. JSONLines encodes an alert with Alert.AppendJSON into a
// reused buffer: a hand-written encoder that writes exactly
// encoding/json's bytes (TestAppendJSONMatchesMarshal) without
// reflection, with per-sink caches of float and top-features encodings.
//
// # Performance
//
// On an attack capture most packets end a flow and most flows alert, so
// scoring and per-alert work weigh as much as decoding. Workers score a
// batch at once: the forest walks eight rows through each tree together,
// k-means filters centroids in float32 (AVX2) and settles in float64, and
// the explanation reuses the nearest centroid. A flood repeats vectors, so
// each worker remembers its last 1024 distinct vectors by their exact bits
// (Config.ScoreMemo): a repeat takes its scores and explanation from
// there, and the alerts of one vector share one []TopFeature, which a
// JSONLines sink encodes once (topCache). Alerts are allocated in slabs of 64 (alertBox), dedup
// lookups of absent records stop at a counting filter (dedupSet), and
// quotients (scores, shares) go straight to strconv. Measured profiles
// are in CHANGELOG.md.
//
// Flows are not sharded across several extractors: the per-host context
// features (source and service windows) must see all of a host's flows,
// and a shard by flow key would split them, changing the vectors. The
// capture goroutine is therefore one core's work, and the pipeline's
// throughput is bounded by it plus whatever the scoring leaves of the
// second core.
//
// # Consumer interfaces
//
// The pipeline sees the extractor and the model through small interfaces
// (Extractor, Model, Scorer) so that it can be tested with doubles, and so
// that a transport can later stand between "vectors produced" and
// "vectors scored". adapt.go adapts features.Extractor and bundle.Bundle;
// packet.go adapts afterimage.Extractor for packet models
// (NewPacketExtractor: one record per IP packet, emitted as it arrives,
// never final; nothing allocated per packet once its tables have grown;
// FeatureSet and PacketConfig read a bundle's feature set and settings).
package detect
