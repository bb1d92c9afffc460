package datasets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-nids/vigil/features"
)

// Benign is the label of every flow or row that no label matches, and the
// normalised label of a feature table's normal rows.
const Benign = "benign"

// DefaultSlack is the time slack LoadLabels puts in Labels.Slack.
const DefaultSlack = time.Second

// maxLabelRows bounds the number of rows a label file may hold.
const maxLabelRows = 10_000_000

// Row is one label window: a labeled time span, endpoints and optionally
// ports and protocol.
type Row struct {
	Line       int          // line of the row in its file (the header is line 1)
	Start, End int64        // Unix ns, Start <= End
	Src, Dst   netip.Prefix // !IsValid() means any address
	Sport      int32        // -1 means any port
	Dport      int32        // -1 means any port
	Proto      int16        // -1 means any protocol
	Label      string       // never empty
}

// Ports returns how many of Sport and Dport the row gives (0, 1 or 2).
func (r *Row) Ports() int {
	n := 0
	if r.Sport >= 0 {
		n++
	}
	if r.Dport >= 0 {
		n++
	}
	return n
}

// Labels is a loaded label windows file, indexed for Match.
//
// Match is safe for concurrent use; Slack must not be changed while Match
// runs.
type Labels struct {
	Name  string        // file name used in messages
	Rows  []Row         // in file order; Match returns indices into Rows. Do not modify: the index is built from them.
	Slack time.Duration // widens every row's span on both sides; LoadLabels sets DefaultSlack

	counts []atomic.Int64 // matches per row

	// Index. Tier 1: rows with a single address on each side, both ports
	// and a protocol, keyed by their canonical 5-tuple. Tier 2: other rows
	// with a single address on each side, keyed by the canonical address
	// pair. Tier 3: all remaining rows. Tier 2 and 3 lists are sorted by
	// start time with a running maximum of end times.
	byTuple map[tupleKey][]int32
	byPair  map[pairKey]*timeList
	rest    timeList
}

type tupleKey struct {
	a, b         netip.Addr
	aport, bport uint16
	proto        uint8
}

type pairKey struct{ a, b netip.Addr }

// timeList holds row indices sorted by start time; maxEnd[i] is the largest
// end time among rows[0..i].
type timeList struct {
	rows   []int32
	start  []int64
	maxEnd []int64
}

func canonTuple(a netip.Addr, ap uint16, b netip.Addr, bp uint16, proto uint8) tupleKey {
	if c := a.Compare(b); c > 0 || (c == 0 && ap > bp) {
		a, b, ap, bp = b, a, bp, ap
	}
	return tupleKey{a: a, b: b, aport: ap, bport: bp, proto: proto}
}

func canonPair(a, b netip.Addr) pairKey {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return pairKey{a, b}
}

// columns of a label file, by canonical name.
const (
	colStart = iota
	colEnd
	colSrc
	colDst
	colLabel
	colSport
	colDport
	colProto
	nCols
)

var colNames = [nCols]string{"start", "end", "src", "dst", "label", "sport", "dport", "proto"}

// colAliases maps every accepted header name to its column; -1 means the
// column is accepted and ignored.
var colAliases = map[string]int{
	"start": colStart, "start_unix_ns": colStart,
	"end": colEnd, "end_unix_ns": colEnd,
	"src": colSrc, "attacker_ip": colSrc,
	"dst": colDst, "victim_ip": colDst,
	"label": colLabel, "attack_type": colLabel,
	"sport": colSport, "dport": colDport, "proto": colProto,
	"note": -1, "tool_and_args": -1,
}

// LoadLabelsFile opens path and calls LoadLabels with its base name.
func LoadLabelsFile(path string) (*Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load labels: %w", err)
	}
	defer f.Close()
	return LoadLabels(f, filepath.Base(path))
}

// LoadLabels reads a label windows CSV from r. name is used in error
// messages ("name:LINE: ...") and in Labels.Name.
//
// The first record is the header; columns are found by name in any order,
// case-insensitively and ignoring surrounding spaces: start, end, src, dst
// and label are required, sport, dport and proto optional, note ignored.
// The lab's names start_unix_ns, end_unix_ns, attacker_ip, victim_ip and
// attack_type are aliases of the first five; tool_and_args is ignored. Any
// other column is an error.
//
// start and end are Unix seconds with an optional fraction of up to 9
// digits (parsed exactly, without floating point), Unix nanoseconds (an
// integer of at least 1e17), or RFC 3339 times. src and dst are an address,
// a CIDR prefix, or empty (or "*") for any; sport and dport a port or
// empty; proto tcp, udp, icmp, icmpv6, sctp, a protocol number, or empty.
func LoadLabels(r io.Reader, name string) (*Labels, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.Comment = 0
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file: no header row", name)
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	var idx [nCols]int
	for i := range idx {
		idx[i] = -1
	}
	var unknown []string
	for i, h := range hdr {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		c, ok := colAliases[h]
		if !ok {
			unknown = append(unknown, strconv.Quote(h))
			continue
		}
		if c < 0 {
			continue
		}
		if idx[c] >= 0 {
			return nil, fmt.Errorf("%s:1: column %q given twice (as %q and %q)", name, colNames[c], strings.TrimSpace(hdr[idx[c]]), strings.TrimSpace(hdr[i]))
		}
		idx[c] = i
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s:1: unknown column(s) %s (want start,end,src,dst,label and optional sport,dport,proto,note)", name, strings.Join(unknown, ", "))
	}
	var missing []string
	for c := colStart; c <= colLabel; c++ {
		if idx[c] < 0 {
			missing = append(missing, colNames[c])
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: missing required column(s) %s", name, strings.Join(missing, ", "))
	}

	l := &Labels{Name: name, Slack: DefaultSlack}
	intern := map[string]string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(l.Rows) >= maxLabelRows {
			return nil, fmt.Errorf("%s:%d: more than %d rows", name, line, maxLabelRows)
		}
		row, err := parseRow(rec, &idx, intern)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		row.Line = line
		l.Rows = append(l.Rows, row)
	}
	l.build()
	return l, nil
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func parseRow(rec []string, idx *[nCols]int, intern map[string]string) (Row, error) {
	field := func(c int) string {
		if idx[c] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[idx[c]])
	}
	var r Row
	var err error
	if r.Start, err = ParseTime(field(colStart)); err != nil {
		return r, fmt.Errorf("bad start time %q: %w", field(colStart), err)
	}
	if r.End, err = ParseTime(field(colEnd)); err != nil {
		return r, fmt.Errorf("bad end time %q: %w", field(colEnd), err)
	}
	if r.End < r.Start {
		return r, fmt.Errorf("end %q is before start %q", field(colEnd), field(colStart))
	}
	if r.Src, err = parseEndpoint(field(colSrc)); err != nil {
		return r, fmt.Errorf("bad src %q: %w", field(colSrc), err)
	}
	if r.Dst, err = parseEndpoint(field(colDst)); err != nil {
		return r, fmt.Errorf("bad dst %q: %w", field(colDst), err)
	}
	if r.Sport, err = parsePort(field(colSport)); err != nil {
		return r, fmt.Errorf("bad sport %q: %w", field(colSport), err)
	}
	if r.Dport, err = parsePort(field(colDport)); err != nil {
		return r, fmt.Errorf("bad dport %q: %w", field(colDport), err)
	}
	if r.Proto, err = ParseProto(field(colProto)); err != nil {
		return r, fmt.Errorf("bad proto %q: %w", field(colProto), err)
	}
	lab := field(colLabel)
	if lab == "" {
		return r, errors.New("empty label")
	}
	if s, ok := intern[lab]; ok {
		r.Label = s
	} else {
		intern[lab] = lab
		r.Label = lab
	}
	return r, nil
}

// ParseTime parses a label time: Unix seconds with an optional fraction of
// up to 9 digits ("1795707401.515130043", parsed exactly), Unix
// nanoseconds (an integer >= 1e17), or an RFC 3339 time. It returns Unix
// nanoseconds.
func ParseTime(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if strings.ContainsAny(s, "-:TZtz") {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, errors.New("not Unix seconds, nanoseconds or RFC 3339")
		}
		if y := t.Year(); y < 1678 || y > 2261 {
			return 0, errors.New("out of range: year must be within 1678-2261")
		}
		return t.UnixNano(), nil
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, errors.New("not Unix seconds, nanoseconds or RFC 3339")
	}
	if len(frac) > 9 {
		return 0, errors.New("more than 9 fractional digits")
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	if !hasDot && n >= 1e17 {
		return n, nil // nanoseconds
	}
	const maxSec = (1<<63 - 1) / 1_000_000_000
	if n > maxSec {
		return 0, errors.New("out of range: too large for Unix seconds, too small for nanoseconds")
	}
	ns := int64(0)
	if hasDot {
		f, _ := strconv.ParseInt(frac, 10, 64)
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	return n*1e9 + ns, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseEndpoint(s string) (netip.Prefix, error) {
	if s == "" || s == "*" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an address or CIDR prefix")
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an address or CIDR prefix")
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePort(s string) (int32, error) {
	if s == "" || s == "*" {
		return -1, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, errors.New("not a port number 0-65535")
	}
	return int32(n), nil
}

var protoNames = map[string]int16{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50,
	"icmpv6": 58, "ipv6-icmp": 58, "icmp6": 58, "sctp": 132,
}

// ParseProto parses a protocol name (tcp, udp, icmp, icmpv6, sctp, …,
// case-insensitive) or number 0-255. The empty string (or "*") gives -1,
// meaning any protocol.
func ParseProto(s string) (int16, error) {
	if s == "" || s == "*" {
		return -1, nil
	}
	if p, ok := protoNames[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, errors.New("not a protocol name (tcp, udp, icmp, icmpv6, sctp) or number 0-255")
	}
	return int16(n), nil
}

func singleAddr(p netip.Prefix) bool { return p.IsValid() && p.Bits() == p.Addr().BitLen() }

func (l *Labels) build() {
	l.counts = make([]atomic.Int64, len(l.Rows))
	l.byTuple = map[tupleKey][]int32{}
	l.byPair = map[pairKey]*timeList{}
	var rest []int32
	pairs := map[pairKey][]int32{}
	for i := range l.Rows {
		r := &l.Rows[i]
		if !singleAddr(r.Src) || !singleAddr(r.Dst) {
			rest = append(rest, int32(i))
			continue
		}
		if r.Sport >= 0 && r.Dport >= 0 && r.Proto >= 0 {
			k := canonTuple(r.Src.Addr(), uint16(r.Sport), r.Dst.Addr(), uint16(r.Dport), uint8(r.Proto))
			l.byTuple[k] = append(l.byTuple[k], int32(i))
			continue
		}
		k := canonPair(r.Src.Addr(), r.Dst.Addr())
		pairs[k] = append(pairs[k], int32(i))
	}
	for k, rows := range pairs {
		l.byPair[k] = l.newTimeList(rows)
	}
	l.rest = *l.newTimeList(rest)
}

func (l *Labels) newTimeList(rows []int32) *timeList {
	slices.SortStableFunc(rows, func(a, b int32) int {
		sa, sb := l.Rows[a].Start, l.Rows[b].Start
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	t := &timeList{rows: rows, start: make([]int64, len(rows)), maxEnd: make([]int64, len(rows))}
	m := int64(-1 << 63)
	for i, r := range rows {
		t.start[i] = l.Rows[r].Start
		m = max(m, l.Rows[r].End)
		t.maxEnd[i] = m
	}
	return t
}

// rowMatches reports whether row i matches id, given the slack, ignoring
// nothing.
func (l *Labels) rowMatches(i int32, id *features.FlowID, src, dst netip.Addr, slack int64) bool {
	r := &l.Rows[i]
	if id.Start > satAdd(r.End, slack) || id.End < satAdd(r.Start, -slack) {
		return false
	}
	if r.Proto >= 0 && int16(id.Proto) != r.Proto {
		return false
	}
	return r.endpoints(src, id.Sport, dst, id.Dport) || r.endpoints(dst, id.Dport, src, id.Sport)
}

func (r *Row) endpoints(a netip.Addr, ap uint16, b netip.Addr, bp uint16) bool {
	if r.Src.IsValid() && !r.Src.Contains(a) {
		return false
	}
	if r.Dst.IsValid() && !r.Dst.Contains(b) {
		return false
	}
	if r.Sport >= 0 && int32(ap) != r.Sport {
		return false
	}
	if r.Dport >= 0 && int32(bp) != r.Dport {
		return false
	}
	return true
}

func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return 1<<63 - 1
	}
	if b < 0 && s > a {
		return -1 << 63
	}
	return s
}

// better reports whether row a takes precedence over row b (b may be -1).
func (l *Labels) better(a, b int32) bool {
	if b < 0 {
		return true
	}
	pa, pb := l.Rows[a].Ports(), l.Rows[b].Ports()
	if pa != pb {
		return pa > pb
	}
	return a < b
}

func (l *Labels) scan(t *timeList, id *features.FlowID, src, dst netip.Addr, slack int64, best int32) int32 {
	if t == nil || len(t.rows) == 0 {
		return best
	}
	hi := satAdd(id.End, slack)
	lo := satAdd(id.Start, -slack)
	// rows[0:n] start no later than the flow's end plus slack.
	n, _ := slices.BinarySearchFunc(t.start, hi, func(s, v int64) int {
		if s <= v {
			return -1
		}
		return 1
	})
	for j := n - 1; j >= 0 && t.maxEnd[j] >= lo; j-- {
		if i := t.rows[j]; l.better(i, best) && l.rowMatches(i, id, src, dst, slack) {
			best = i
		}
	}
	return best
}

// Match returns the label of the flow id and the index in l.Rows of the row
// that gave it, or (Benign, -1) when no row matches.
//
// A row matches when the flow's span [Start, End] overlaps the row's
// [start − Slack, end + Slack], its protocol matches where the row gives
// one, and its endpoints match in either direction: (Src, Sport) against
// the row's (src, sport) and (Dst, Dport) against (dst, dport), or the same
// with the flow's endpoints swapped. A missing address or port matches any.
//
// When several rows match, the one giving more ports wins (a per-flow row
// over a window), and among those the earliest row in the file.
//
// Match counts matches per row for Unmatched; it is safe for concurrent
// use.
func (l *Labels) Match(id features.FlowID) (label string, row int) {
	src, dst := id.Src.Unmap(), id.Dst.Unmap()
	slack := int64(l.Slack)
	best := int32(-1)
	if len(l.byTuple) > 0 {
		k := canonTuple(src, id.Sport, dst, id.Dport, id.Proto)
		for _, i := range l.byTuple[k] {
			if l.better(i, best) && l.rowMatches(i, &id, src, dst, slack) {
				best = i
			}
		}
	}
	if len(l.byPair) > 0 {
		best = l.scan(l.byPair[canonPair(src, dst)], &id, src, dst, slack, best)
	}
	best = l.scan(&l.rest, &id, src, dst, slack, best)
	if best < 0 {
		return Benign, -1
	}
	l.counts[best].Add(1)
	return l.Rows[best].Label, int(best)
}

// Matches returns how many times Match returned row i.
func (l *Labels) Matches(i int) int64 { return l.counts[i].Load() }

// ResetCounts sets every row's match count to zero.
func (l *Labels) ResetCounts() {
	for i := range l.counts {
		l.counts[i].Store(0)
	}
}

// Unmatched returns the indices of the rows Match has never returned, in
// file order. A row can be unmatched because no flow fell in it, or
// because a more specific or earlier row won every flow it matched.
func (l *Labels) Unmatched() []int {
	var u []int
	for i := range l.counts {
		if l.counts[i].Load() == 0 {
			u = append(u, i)
		}
	}
	return u
}

// UnmatchedReport describes the unmatched rows for a warning: their count
// and up to max of them by line. It returns "" when every row matched.
func (l *Labels) UnmatchedReport(max int) string {
	u := l.Unmatched()
	if len(u) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d label rows matched no flow", l.Name, len(u), len(l.Rows))
	for j, i := range u {
		if j >= max {
			fmt.Fprintf(&b, "; …")
			break
		}
		r := &l.Rows[i]
		sep := ": "
		if j > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%sline %d (%s %s -> %s)", sep, r.Line, r.Label, fmtEnd(r.Src, r.Sport), fmtEnd(r.Dst, r.Dport))
	}
	return b.String()
}

func fmtEnd(p netip.Prefix, port int32) string {
	s := "any"
	if p.IsValid() {
		s = p.String()
		if singleAddr(p) {
			s = p.Addr().String()
		}
	}
	if port >= 0 {
		s += ":" + strconv.Itoa(int(port))
	}
	return s
}

// ParsePcapArg splits a --pcap argument of the form FILE=LABEL.
//
// The rule: if s names an existing file or directory, it is the path and
// the label is empty (so a path containing '=' works when it exists).
// Otherwise s is split at its last '='; the part after it is the label when
// it is non-empty and contains no path separator. In every other case s is
// the path and the label is empty. A label cannot contain '='.
func ParsePcapArg(s string) (path, label string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return s, ""
	}
	lab := s[i+1:]
	if lab == "" || strings.ContainsAny(lab, `/\`) {
		return s, ""
	}
	return s[:i], lab
}

// Span summarises the rows of one label: the earliest start, the latest
// end (Unix ns) and the number of rows. Evaluation measures the delay to
// the first detection of a label from its Start.
type Span struct {
	Start, End int64
	Rows       int
}

// Spans returns the Span of every label in l.
func (l *Labels) Spans() map[string]Span {
	m := make(map[string]Span)
	for i := range l.Rows {
		r := &l.Rows[i]
		s, ok := m[r.Label]
		if !ok {
			s = Span{Start: r.Start, End: r.End}
		}
		s.Start = min(s.Start, r.Start)
		s.End = max(s.End, r.End)
		s.Rows++
		m[r.Label] = s
	}
	return m
}
