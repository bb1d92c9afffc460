package detect

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/vigil-nids/vigil/features"
)

// AppendJSON appends a's JSON encoding to b and returns it: exactly the
// bytes json.Marshal(a) produces (field names, order, omitempty, HTML-safe
// string escapes, null for non-finite floats and a nil TopFeatures), but
// without reflection, and without allocating when b has room. A detect run
// on an attack capture writes hundreds of thousands of alerts, and
// encoding/json was the largest single cost (TestAppendJSONMatchesMarshal
// holds the two encodings equal).
func (a *Alert) AppendJSON(b []byte) []byte { return a.appendJSON(b, nil, nil) }

// appendJSON is AppendJSON with caches of float and top-features
// encodings (nil: none).
func (a *Alert) appendJSON(b []byte, fc *floatCache, tc *topCache) []byte {
	b = append(b, `{"timestamp":`...)
	b = a.Timestamp.appendJSON(b)
	b = append(b, `,"event_type":`...)
	b = appendJSONString(b, a.EventType)
	b = append(b, `,"flow_id":`...)
	b = strconv.AppendUint(b, a.FlowID, 10)
	b = append(b, `,"src_ip":`...)
	b = appendAddr(b, a.SrcIP)
	if a.SrcPort != nil {
		b = append(b, `,"src_port":`...)
		b = strconv.AppendUint(b, uint64(*a.SrcPort), 10)
	}
	b = append(b, `,"dest_ip":`...)
	b = appendAddr(b, a.DestIP)
	if a.DestPort != nil {
		b = append(b, `,"dest_port":`...)
		b = strconv.AppendUint(b, uint64(*a.DestPort), 10)
	}
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, a.Proto)
	if a.ICMPType != nil {
		b = append(b, `,"icmp_type":`...)
		b = strconv.AppendUint(b, uint64(*a.ICMPType), 10)
	}
	if a.ICMPCode != nil {
		b = append(b, `,"icmp_code":`...)
		b = strconv.AppendUint(b, uint64(*a.ICMPCode), 10)
	}
	if len(a.VLAN) > 0 {
		b = append(b, `,"vlan":[`...)
		for i, v := range a.VLAN {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(v), 10)
		}
		b = append(b, ']')
	}
	f := &a.Flow
	b = append(b, `,"flow":{"pkts_toserver":`...)
	b = strconv.AppendUint(b, f.PktsToServer, 10)
	b = append(b, `,"pkts_toclient":`...)
	b = strconv.AppendUint(b, f.PktsToClient, 10)
	b = append(b, `,"bytes_toserver":`...)
	b = strconv.AppendUint(b, f.BytesToServer, 10)
	b = append(b, `,"bytes_toclient":`...)
	b = strconv.AppendUint(b, f.BytesToClient, 10)
	b = append(b, `,"start":`...)
	b = f.Start.appendJSON(b)
	b = append(b, `,"end":`...)
	b = f.End.appendJSON(b)
	if f.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, f.Reason)
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, uint64(f.Seq), 10)
	b = append(b, '}')
	if a.CommunityID != "" {
		b = append(b, `,"community_id":`...)
		b = appendJSONString(b, a.CommunityID)
	}
	b = append(b, `,"score":`...)
	b = a.Score.appendQuotc(b, fc)
	b = append(b, `,"scores":`...)
	b = a.Scores.appendJSON(b, fc)
	b = append(b, `,"threshold":`...)
	b = a.Threshold.appendJSONc(b, fc)
	b = append(b, `,"thresholds":`...)
	b = a.Thresholds.appendJSON(b, fc)
	b = append(b, `,"top_features":`...)
	b = tc.append(b, a.TopFeatures, fc)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, a.Model)
	b = append(b, `,"final":`...)
	b = strconv.AppendBool(b, a.Final)
	if len(a.Related) > 0 {
		b = append(b, `,"related_flows":[`...)
		for i := range a.Related {
			r := &a.Related[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"src_port":`...)
			b = strconv.AppendUint(b, uint64(r.SrcPort), 10)
			b = append(b, `,"start":`...)
			b = r.Start.appendJSON(b)
			b = append(b, `,"community_id":`...)
			b = appendJSONString(b, r.CommunityID)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if a.TLS != nil {
		b = append(b, `,"tls":{"ja4":`...)
		b = appendJSONString(b, a.TLS.JA4)
		b = append(b, '}')
	}
	if a.Username != "" {
		b = append(b, `,"username":`...)
		b = appendJSONString(b, a.Username)
	}
	return append(b, '}')
}

// appendTopJSON appends top's JSON encoding (null for nil).
func appendTopJSON(b []byte, top []TopFeature, fc *floatCache) []byte {
	if top == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range top {
		t := &top[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, t.Name)
		b = append(b, `,"value":`...)
		b = t.Value.appendJSONc(b, fc)
		b = append(b, `,"baseline":[`...)
		b = t.Baseline[0].appendJSONc(b, fc)
		b = append(b, ',')
		b = t.Baseline[1].appendJSONc(b, fc)
		b = append(b, `],"share":`...)
		b = t.Share.appendQuotc(b, fc)
		b = append(b, '}')
	}
	return append(b, ']')
}

// topCache remembers the encodings of recent TopFeatures slices by their
// identity (address and length): the alerts of one feature vector share
// one slice (the score memo's, see Config.ScoreMemo), and its encoding,
// the largest part of an alert's, is made once. An entry holds the slice,
// so its address cannot be taken by another slice while the entry lives,
// and Alert.TopFeatures is read-only, so the encoding stays right. It
// belongs to one goroutine (a JSONLines sink, under its lock).
type topCache [256]struct {
	top []TopFeature
	enc []byte
}

// append appends top's encoding through the cache (nil: none).
func (tc *topCache) append(b []byte, top []TopFeature, fc *floatCache) []byte {
	if tc == nil || len(top) == 0 {
		return appendTopJSON(b, top, fc)
	}
	p := unsafe.SliceData(top)
	e := &tc[(uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15)>>56]
	if len(e.top) == len(top) && unsafe.SliceData(e.top) == p {
		return append(b, e.enc...)
	}
	n := len(b)
	b = appendTopJSON(b, top, fc)
	e.top, e.enc = top, append(e.enc[:0], b[n:]...)
	return b
}

func (m *ModelScores) appendJSON(b []byte, fc *floatCache) []byte {
	b = append(b, `{"iforest":`...)
	b = m.IForest.appendQuotc(b, fc)
	b = append(b, `,"kmeans":`...)
	b = m.KMeans.appendQuotc(b, fc)
	return append(b, '}')
}

// appendJSON appends Time's MarshalJSON output. Years 0-9999 are
// formatted here (a third of encoding time went to time.AppendFormat);
// others by AppendFormat.
func (t Time) appendJSON(b []byte) []byte {
	sec, nsec := int64(t)/1e9, int64(t)%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	days, s := sec/86400, sec%86400
	if s < 0 {
		days, s = days-1, s+86400
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		b = append(b, '"')
		b = t.Time().AppendFormat(b, RFC3339Micro)
		return append(b, '"')
	}
	var buf [len(`"2006-01-02T15:04:05.000000Z"`)]byte
	buf[0] = '"'
	// Two digits at a time from a table: v < 100.
	put2 := func(at int, v int64) { buf[at], buf[at+1] = digits2[2*v], digits2[2*v+1] }
	put2(1, y/100)
	put2(3, y%100)
	buf[5] = '-'
	put2(6, m)
	buf[8] = '-'
	put2(9, d)
	buf[11] = 'T'
	put2(12, s/3600)
	buf[14] = ':'
	put2(15, s/60%60)
	buf[17] = ':'
	put2(18, s%60)
	buf[20] = '.'
	us := nsec / 1000
	put2(21, us/10000)
	put2(23, us/100%100)
	put2(25, us%100)
	buf[27], buf[28] = 'Z', '"'
	return append(b, buf[:]...)
}

// digits2 holds "00" to "99".
const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse). days must be within ±2^50.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// floatCache remembers the encodings of recent floats, direct-mapped by
// their bits: thresholds, baseline bounds and many feature values repeat
// from alert to alert, and shortest formatting is the costliest part of
// an alert. It belongs to one goroutine (a JSONLines sink, under its lock).
type floatCache [256]struct {
	bits uint64
	n    uint8 // encoding length; 0: empty
	s    [24]byte
}

// appendJSONc is appendJSON through a cache (nil: none).
func (f Float) appendJSONc(b []byte, fc *floatCache) []byte { return f.cached(b, fc, false) }

// appendQuotc is appendJSONc for a quotient (a score, a share), which
// mostly needs 16 or 17 digits: see appendQuot.
func (f Float) appendQuotc(b []byte, fc *floatCache) []byte { return f.cached(b, fc, true) }

// appendQuot is appendJSON for a value that most likely needs 16 or 17
// significant digits. A finite non-integer goes to strconv at once:
// features.AppendFloat would first look for a decimal of at most 15
// digits, and its output equals strconv's for every non-integer.
func (f Float) appendQuot(b []byte) []byte {
	if v := float64(f); v != math.Trunc(v) && !math.IsNaN(v) {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return f.appendJSON(b)
}

// cached appends f's encoding (appendQuot's when quot, else appendJSON's)
// through cache fc (nil: none).
func (f Float) cached(b []byte, fc *floatCache, quot bool) []byte {
	if fc == nil {
		if quot {
			return f.appendQuot(b)
		}
		return f.appendJSON(b)
	}
	bits := math.Float64bits(float64(f))
	e := &fc[(bits*0x9E3779B97F4A7C15)>>56]
	if e.n > 0 && e.bits == bits {
		return append(b, e.s[:e.n]...)
	}
	n := len(b)
	if quot {
		b = f.appendQuot(b)
	} else {
		b = f.appendJSON(b)
	}
	if enc := b[n:]; len(enc) <= len(e.s) {
		e.bits, e.n = bits, uint8(copy(e.s[:], enc))
	}
	return b
}

// appendJSON appends Float's MarshalJSON output: strconv's shortest 'g'
// form. features.AppendFloat writes exactly that, faster, except for
// integers of 1e6 and above (plain decimal where 'g' has an exponent),
// which go to strconv here.
func (f Float) appendJSON(b []byte) []byte {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	if math.Abs(v) >= 1e6 && v == math.Trunc(v) {
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return features.AppendFloat(b, v)
}

// appendAddr appends an address as encoding/json writes a
// TextMarshaler: its text as a JSON string ("" for the zero Addr).
func appendAddr(b []byte, ip netip.Addr) []byte {
	var tmp [64]byte
	t := ip.AppendTo(tmp[:0])
	if plainJSON(t) {
		b = append(b, '"')
		b = append(b, t...)
		return append(b, '"')
	}
	return appendJSONString(b, string(t))
}

// appendJSONString appends s as encoding/json quotes it. Strings of
// printable ASCII without '"', '\\', '<', '>' and '&' (every string detect
// writes in practice) are copied; any other goes through encoding/json,
// so escapes, invalid UTF-8 and U+2028/9 come out exactly as Marshal's.
func appendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(b, `""`...)
	}
	return append(b, q...)
}

// plainJSON reports whether s needs no escaping in a JSON string under
// encoding/json's HTML-safe rules. It tests eight bytes at a time: the
// model hash, feature names and Community ID of every alert pass here.
func plainJSON[S string | []byte](s S) bool {
	i := 0
	if len(s) >= 8 {
		var p *byte
		switch v := any(s).(type) {
		case string:
			p = unsafe.StringData(v)
		case []byte:
			p = unsafe.SliceData(v)
		}
		for ; i+8 <= len(s); i += 8 {
			if !plainWord(binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), i)), 8))) {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainWord reports whether none of w's eight bytes needs escaping (see
// plainJSON): no byte ≥ 0x80 or < 0x20, none of " \\ < > &. Each test is
// exact for "some byte": a borrow can only spread from a byte that
// already matched.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs } // a zero byte
	bad := w&highs | (w-0x20*ones)&^w&highs |
		zero(w^'"'*ones) | zero(w^'\\'*ones) | zero(w^'<'*ones) | zero(w^'>'*ones) | zero(w^'&'*ones)
	return bad == 0
}
