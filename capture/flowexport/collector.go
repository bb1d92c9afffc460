package flowexport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
)

// Record is one exported flow record, mapped to vigil's terms. For a
// unidirectional export it describes one direction; for an IPFIX biflow
// (RFC 5103) the Rev* fields hold the reverse direction.
type Record struct {
	Exporter netip.Addr
	Version  uint16 // 5, 9 or 10 (IPFIX)
	Domain   uint32 // observation domain (IPFIX), source ID (v9), engine (v5)

	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	ToS              uint8
	TCPFlags         uint8

	Packets, Bytes uint64
	// Reverse direction of an IPFIX biflow; zero for unidirectional records.
	RevPackets, RevBytes uint64
	RevTCPFlags          uint8
	Biflow               bool

	// Start and End in nanoseconds since the Unix epoch.
	Start, End int64
	// Sampled is the sampling interval the counts were scaled by, 0 when
	// the exporter reported none.
	Sampled uint32
}

// Config bounds a Collector. Zero fields take the defaults.
type Config struct {
	MaxExporters int           // default 1024
	MaxTemplates int           // per exporter, default 256
	TemplateTTL  time.Duration // default 30 minutes of datagram time
}

func (c Config) withDefaults() Config {
	if c.MaxExporters <= 0 {
		c.MaxExporters = 1024
	}
	if c.MaxTemplates <= 0 {
		c.MaxTemplates = 256
	}
	if c.TemplateTTL <= 0 {
		c.TemplateTTL = 30 * time.Minute
	}
	return c
}

// Drop reasons counted in Stats.Drops.
const (
	DropShort           = "short_datagram"
	DropVersion         = "unknown_version"
	DropTruncated       = "truncated"
	DropBadTemplate     = "bad_template"
	DropUnknownTemplate = "unknown_template"
	DropTemplateLimit   = "template_limit"
	DropExporterLimit   = "exporter_limit"
	DropNoAddress       = "no_address"
	DropNotUDP          = "not_udp"
)

// Stats are the collector's counters; the summary's netflow object.
type Stats struct {
	Datagrams uint64            `json:"datagrams"`
	Records   uint64            `json:"records"`
	Drops     map[string]uint64 `json:"drops"`
	// SequenceGaps counts the units the sequence numbers say were lost:
	// flows for v5, datagrams for v9, data records for IPFIX.
	SequenceGaps uint64            `json:"sequence_gaps"`
	Exporters    []ExporterStats   `json:"exporters"`
	Templates    int               `json:"templates"`
	Sampling     map[uint32]uint64 `json:"sampling_rates"` // interval -> records
}

// ExporterStats describes one exporter.
type ExporterStats struct {
	Address   string `json:"address"`
	Datagrams uint64 `json:"datagrams"`
	Records   uint64 `json:"records"`
	Templates int    `json:"templates"`
	// ClockSkewMs is the last datagram's export time minus its receive
	// time, in milliseconds (positive: the exporter's clock is ahead).
	ClockSkewMs int64 `json:"clock_skew_ms"`
}

// Collector decodes datagrams of many exporters. It is not safe for
// concurrent use: one receive loop owns it.
type Collector struct {
	cfg       Config
	exporters map[netip.Addr]*exporter
	stats     Stats
	nfv9      netflow.NFv9Packet
	ipfix     netflow.IPFIXPacket
	v5        netflowlegacy.PacketNetFlowV5
}

type seqKey struct {
	version uint16
	domain  uint32
}

type exporter struct {
	addr      netip.Addr
	templates *templateStore
	next      map[seqKey]uint32 // expected next sequence number
	last      map[seqKey]uint32 // last sequence number received
	sampling  map[seqKey]uint32 // sampling interval from option data
	initMs    map[seqKey]int64  // IPFIX systemInitTimeMilliseconds from option data
	datagrams uint64
	records   uint64
	skewMs    int64
}

// New returns a Collector bounded by cfg.
func New(cfg Config) *Collector {
	return &Collector{
		cfg:       cfg.withDefaults(),
		exporters: make(map[netip.Addr]*exporter),
		stats:     Stats{Drops: make(map[string]uint64), Sampling: make(map[uint32]uint64)},
	}
}

func (c *Collector) drop(reason string) { c.stats.Drops[reason]++ }

// Stats returns a copy of the counters, exporters sorted by address.
func (c *Collector) Stats() Stats {
	s := c.stats
	s.Drops = make(map[string]uint64, len(c.stats.Drops))
	for k, v := range c.stats.Drops {
		s.Drops[k] = v
	}
	s.Sampling = make(map[uint32]uint64, len(c.stats.Sampling))
	for k, v := range c.stats.Sampling {
		s.Sampling[k] = v
	}
	s.Exporters = nil
	s.Templates = 0
	for _, e := range c.exporters {
		n := len(e.templates.entries)
		s.Templates += n
		s.Exporters = append(s.Exporters, ExporterStats{
			Address: e.addr.String(), Datagrams: e.datagrams, Records: e.records,
			Templates: n, ClockSkewMs: e.skewMs,
		})
	}
	sort.Slice(s.Exporters, func(i, j int) bool { return s.Exporters[i].Address < s.Exporters[j].Address })
	return s
}

// Decode decodes one datagram from exporter from, received at now
// (nanoseconds since the Unix epoch: the pcap timestamp or the wall clock),
// and appends its flow records to dst. A datagram that cannot be decoded is
// counted in Stats.Drops and returns dst with the records decoded before
// the fault; the error says why.
func (c *Collector) Decode(dst []Record, from netip.Addr, payload []byte, now int64) ([]Record, error) {
	c.stats.Datagrams++
	if !from.IsValid() {
		c.drop(DropNoAddress)
		return dst, errors.New("flowexport: datagram without exporter address")
	}
	if len(payload) < 4 {
		c.drop(DropShort)
		return dst, fmt.Errorf("flowexport: %d-byte datagram", len(payload))
	}
	from = from.Unmap()
	e := c.exporters[from]
	if e == nil {
		if len(c.exporters) >= c.cfg.MaxExporters {
			c.drop(DropExporterLimit)
			return dst, fmt.Errorf("flowexport: exporter %s over the limit of %d", from, c.cfg.MaxExporters)
		}
		e = &exporter{
			addr:      from,
			templates: newTemplateStore(c.cfg.MaxTemplates, c.cfg.TemplateTTL),
			next:      make(map[seqKey]uint32),
			last:      make(map[seqKey]uint32),
			sampling:  make(map[seqKey]uint32),
			initMs:    make(map[seqKey]int64),
		}
		c.exporters[from] = e
	}
	e.datagrams++
	before := len(dst)
	var err error
	switch version := binary.BigEndian.Uint16(payload); version {
	case 5:
		dst, err = c.decodeV5(dst, e, payload, now)
	case 9, 10:
		dst, err = c.decodeTemplated(dst, e, payload, now)
	default:
		c.drop(DropVersion)
		return dst, fmt.Errorf("flowexport: unknown version %d from %s", version, from)
	}
	n := uint64(len(dst) - before)
	e.records += n
	c.stats.Records += n
	return dst, err
}

// gap counts lost units between the expected and the received sequence
// number. A number behind the expected one (a restart or reordering) resets
// the expectation without counting. softflowd's IPFIX export numbers a
// message after its own records (RFC 7011 says before): a number equal to
// the previous one plus this message's units is taken as in order too.
func (c *Collector) gap(e *exporter, k seqKey, seq, units uint32) {
	if want, ok := e.next[k]; ok && seq != want && seq != e.last[k]+units {
		if d := seq - want; d < 1<<30 {
			c.stats.SequenceGaps += uint64(d)
		}
	}
	e.next[k] = seq + units
	e.last[k] = seq
}

func (c *Collector) decodeV5(dst []Record, e *exporter, payload []byte, now int64) ([]Record, error) {
	p := &c.v5
	*p = netflowlegacy.PacketNetFlowV5{Records: p.Records[:0]}
	if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(payload), p); err != nil {
		c.drop(DropTruncated)
		return dst, fmt.Errorf("flowexport: netflow v5 from %s: %w", e.addr, err)
	}
	if int(p.Count) != len(p.Records) {
		c.drop(DropTruncated)
		return dst, fmt.Errorf("flowexport: netflow v5 from %s: header counts %d records, datagram holds %d", e.addr, p.Count, len(p.Records))
	}
	k := seqKey{5, uint32(p.EngineType)<<8 | uint32(p.EngineId)}
	c.gap(e, k, p.FlowSequence, uint32(p.Count))
	exportMs := int64(p.UnixSecs)*1000 + int64(p.UnixNSecs)/1e6
	e.skewMs = exportMs - now/1e6
	sampling := uint32(p.SamplingInterval & 0x3fff)
	for _, r := range p.Records {
		rec := Record{
			Exporter: e.addr, Version: 5, Domain: k.domain,
			Src: v4(uint32(r.SrcAddr)), Dst: v4(uint32(r.DstAddr)),
			SrcPort: r.SrcPort, DstPort: r.DstPort, Proto: r.Proto, ToS: r.Tos, TCPFlags: r.TCPFlags,
			Packets: uint64(r.DPkts), Bytes: uint64(r.DOctets),
			Start: uptimeToUnix(exportMs, p.SysUptime, r.First),
			End:   uptimeToUnix(exportMs, p.SysUptime, r.Last),
		}
		dst = append(dst, c.scale(rec, sampling))
	}
	return dst, nil
}

// scale multiplies the counts by a sampling interval above 1 and marks the
// record sampled.
func (c *Collector) scale(r Record, interval uint32) Record {
	if interval > 1 {
		r.Packets *= uint64(interval)
		r.Bytes *= uint64(interval)
		r.RevPackets *= uint64(interval)
		r.RevBytes *= uint64(interval)
		r.Sampled = interval
	}
	c.stats.Sampling[r.Sampled]++
	return r
}

func v4(a uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

// uptimeToUnix converts a time in milliseconds of exporter uptime to
// nanoseconds since the Unix epoch, given the export time and the uptime at
// export. The uint32 subtraction handles uptime wrap-around.
func uptimeToUnix(exportMs int64, sysUptime, t uint32) int64 {
	return (exportMs - int64(int32(sysUptime-t))) * 1e6
}

func (c *Collector) decodeTemplated(dst []Record, e *exporter, payload []byte, now int64) ([]Record, error) {
	e.templates.now = now
	e.templates.refused = ""
	var version uint16
	var domain, seq uint32
	var exportMs int64
	var sysUptime uint32
	var flowSets []interface{}
	var err error
	buf := bytes.NewBuffer(payload)
	if binary.BigEndian.Uint16(payload) == 9 {
		c.nfv9 = netflow.NFv9Packet{}
		err = netflow.DecodeMessageVersion(buf, e.templates, &c.nfv9, &c.ipfix)
		version, domain, seq = 9, c.nfv9.SourceId, c.nfv9.SequenceNumber
		exportMs, sysUptime = int64(c.nfv9.UnixSeconds)*1000, c.nfv9.SystemUptime
		flowSets = c.nfv9.FlowSets
	} else {
		c.ipfix = netflow.IPFIXPacket{}
		err = netflow.DecodeMessageVersion(buf, e.templates, &c.nfv9, &c.ipfix)
		version, domain, seq = 10, c.ipfix.ObservationDomainId, c.ipfix.SequenceNumber
		exportMs = int64(c.ipfix.ExportTime) * 1000
		flowSets = c.ipfix.FlowSets
	}
	if exportMs == 0 && len(flowSets) == 0 && err != nil {
		c.drop(DropTruncated)
		return dst, fmt.Errorf("flowexport: v%d from %s: %w", version, e.addr, err)
	}
	k := seqKey{version, domain}
	e.skewMs = exportMs - now/1e6
	// Option data first: a datagram's sampling interval or init time
	// applies to its own data sets whatever their order.
	for _, fs := range flowSets {
		if fs, ok := fs.(netflow.OptionsDataFlowSet); ok {
			for _, r := range fs.Records {
				for _, v := range r.OptionsValues {
					switch v.Type {
					case 34, 50, 305: // samplingInterval, samplerRandomInterval, samplingPacketInterval
						if iv := uintValue(v.Value); iv > 0 && iv < 1<<32 {
							e.sampling[k] = uint32(iv)
						}
					case 160: // systemInitTimeMilliseconds
						e.initMs[k] = int64(uintValue(v.Value))
					}
				}
			}
		}
	}
	t := timeBase{exportMs: exportMs, sysUptime: sysUptime, initMs: e.initMs[k]}
	// IPFIX sequence numbers count data records; softflowd and nfcapd
	// count flow records only, so option data records are not counted.
	var dataRecords uint32
	for _, fs := range flowSets {
		fs, ok := fs.(netflow.DataFlowSet)
		if !ok {
			continue
		}
		for _, r := range fs.Records {
			dataRecords++
			rec, ok := mapRecord(r.Values, t)
			if !ok {
				continue
			}
			rec.Exporter, rec.Version, rec.Domain = e.addr, version, domain
			interval := rec.Sampled
			if interval == 0 {
				interval = e.sampling[k]
			}
			rec.Sampled = 0
			dst = append(dst, c.scale(rec, interval))
		}
	}
	if version == 9 {
		c.gap(e, k, seq, 1)
	} else {
		c.gap(e, k, seq, dataRecords)
	}
	if err != nil {
		switch {
		case e.templates.refused != "":
			c.drop(e.templates.refused)
		case errors.Is(err, netflow.ErrorTemplateNotFound):
			c.drop(DropUnknownTemplate)
		default:
			c.drop(DropTruncated)
		}
		return dst, fmt.Errorf("flowexport: v%d from %s: %w", version, e.addr, err)
	}
	return dst, nil
}

type timeBase struct {
	exportMs  int64
	sysUptime uint32
	initMs    int64
}

// uintValue reads a big-endian unsigned field of 1 to 8 bytes.
func uintValue(v interface{}) uint64 {
	b, _ := v.([]byte)
	if len(b) == 0 || len(b) > 8 {
		return 0
	}
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

func addrValue(v interface{}) netip.Addr {
	b, _ := v.([]byte)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ipfixReversePEN is the enterprise number of RFC 5103's reverse
// information elements.
const ipfixReversePEN = 29305

// mapRecord maps the fields of one v9 or IPFIX data record. Records with
// no addresses (e.g. a template the exporter uses for something else) are
// skipped.
func mapRecord(values []netflow.DataField, t timeBase) (Record, bool) {
	var r Record
	var startMs, endMs, startUp, endUp int64
	initMs := t.initMs
	var haveUp bool
	for _, v := range values {
		if v.PenProvided {
			if v.Pen != ipfixReversePEN {
				continue
			}
			switch v.Type {
			case 1, 85:
				r.RevBytes = uintValue(v.Value)
				r.Biflow = true
			case 2, 86:
				r.RevPackets = uintValue(v.Value)
				r.Biflow = true
			case 6:
				r.RevTCPFlags = uint8(uintValue(v.Value))
			}
			continue
		}
		switch v.Type {
		case 1, 85: // octetDeltaCount, octetTotalCount
			r.Bytes = uintValue(v.Value)
		case 2, 86: // packetDeltaCount, packetTotalCount
			r.Packets = uintValue(v.Value)
		case 4:
			r.Proto = uint8(uintValue(v.Value))
		case 5:
			r.ToS = uint8(uintValue(v.Value))
		case 6:
			r.TCPFlags = uint8(uintValue(v.Value))
		case 7:
			r.SrcPort = uint16(uintValue(v.Value))
		case 11:
			r.DstPort = uint16(uintValue(v.Value))
		case 32, 139: // icmpTypeCodeIPv4/IPv6: type<<8|code, where v5 puts it (the destination port)
			r.DstPort = uint16(uintValue(v.Value))
		case 8, 27:
			r.Src = addrValue(v.Value)
		case 12, 28:
			r.Dst = addrValue(v.Value)
		case 34:
			r.Sampled = uint32(uintValue(v.Value))
		case 22: // flowStartSysUpTime (ms of uptime)
			startUp, haveUp = int64(uintValue(v.Value)), true
		case 21:
			endUp, haveUp = int64(uintValue(v.Value)), true
		case 160: // systemInitTimeMilliseconds
			initMs = int64(uintValue(v.Value))
		case 150:
			startMs = int64(uintValue(v.Value)) * 1000
		case 151:
			endMs = int64(uintValue(v.Value)) * 1000
		case 152:
			startMs = int64(uintValue(v.Value))
		case 153:
			endMs = int64(uintValue(v.Value))
		case 154:
			startMs = int64(uintValue(v.Value)) / 1000
		case 155:
			endMs = int64(uintValue(v.Value)) / 1000
		case 156, 157: // NTP-format nanoseconds: seconds since 1900 in the high 32 bits
			x := uintValue(v.Value)
			ms := (int64(x>>32)-2208988800)*1000 + int64((x&0xffffffff)*1000>>32)
			if v.Type == 156 {
				startMs = ms
			} else {
				endMs = ms
			}
		}
	}
	if !r.Src.IsValid() || !r.Dst.IsValid() {
		return r, false
	}
	switch {
	case startMs != 0 || endMs != 0:
		r.Start, r.End = startMs*1e6, endMs*1e6
	case haveUp && initMs != 0:
		r.Start, r.End = (initMs+startUp)*1e6, (initMs+endUp)*1e6
	case haveUp && t.sysUptime != 0:
		r.Start = uptimeToUnix(t.exportMs, t.sysUptime, uint32(startUp))
		r.End = uptimeToUnix(t.exportMs, t.sysUptime, uint32(endUp))
	default:
		r.Start, r.End = t.exportMs*1e6, t.exportMs*1e6
	}
	if r.End < r.Start {
		r.End = r.Start
	}
	return r, true
}
