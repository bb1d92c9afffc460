package detect

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends a's JSON encoding to b and returns it: exactly the
// bytes json.Marshal(a) produces (field names, order, omitempty, HTML-safe
// string escapes, null for non-finite floats and a nil TopFeatures), but
// without reflection, and without allocating when b has room. A detect run
// on an attack capture writes hundreds of thousands of alerts, and
// encoding/json was the largest single cost (TestAppendJSONMatchesMarshal
// holds the two encodings equal).
func (a *Alert) AppendJSON(b []byte) []byte {
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
	b = a.Score.appendJSON(b)
	b = append(b, `,"scores":`...)
	b = a.Scores.appendJSON(b)
	b = append(b, `,"threshold":`...)
	b = a.Threshold.appendJSON(b)
	b = append(b, `,"thresholds":`...)
	b = a.Thresholds.appendJSON(b)
	b = append(b, `,"top_features":`...)
	if a.TopFeatures == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range a.TopFeatures {
			t := &a.TopFeatures[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, t.Name)
			b = append(b, `,"value":`...)
			b = t.Value.appendJSON(b)
			b = append(b, `,"baseline":[`...)
			b = t.Baseline[0].appendJSON(b)
			b = append(b, ',')
			b = t.Baseline[1].appendJSON(b)
			b = append(b, `],"share":`...)
			b = t.Share.appendJSON(b)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"model":`...)
	b = appendJSONString(b, a.Model)
	b = append(b, `,"final":`...)
	b = strconv.AppendBool(b, a.Final)
	return append(b, '}')
}

func (m *ModelScores) appendJSON(b []byte) []byte {
	b = append(b, `{"iforest":`...)
	b = m.IForest.appendJSON(b)
	b = append(b, `,"kmeans":`...)
	b = m.KMeans.appendJSON(b)
	return append(b, '}')
}

// appendJSON appends Time's MarshalJSON output.
func (t Time) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.Time().AppendFormat(b, RFC3339Micro)
	return append(b, '"')
}

// appendJSON appends Float's MarshalJSON output.
func (f Float) appendJSON(b []byte) []byte {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
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
// encoding/json's HTML-safe rules.
func plainJSON[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
