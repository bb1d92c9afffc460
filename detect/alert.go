package detect

import (
	"math"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
)

// Alert is one anomaly event, written as one EVE-style JSON object per
// line. Field names follow Suricata's EVE format where one exists
// (timestamp, event_type, flow_id, src_ip, src_port, dest_ip, dest_port,
// proto, flow.pkts_toserver, community_id), so jq filters and Filebeat's
// Suricata module conventions carry over. "toserver" is the direction of
// the flow's first packet (src → dest).
type Alert struct {
	Timestamp Time       `json:"timestamp"` // scoring moment, capture time
	EventType string     `json:"event_type"`
	FlowID    uint64     `json:"flow_id"`
	SrcIP     netip.Addr `json:"src_ip"`
	SrcPort   *uint16    `json:"src_port,omitempty"` // nil for ICMP
	DestIP    netip.Addr `json:"dest_ip"`
	DestPort  *uint16    `json:"dest_port,omitempty"`
	Proto     string     `json:"proto"`
	ICMPType  *uint8     `json:"icmp_type,omitempty"` // ICMP only
	ICMPCode  *uint8     `json:"icmp_code,omitempty"`
	VLAN      []uint16   `json:"vlan,omitempty"`

	Flow        AlertFlow    `json:"flow"`
	CommunityID string       `json:"community_id,omitempty"`
	Score       Float        `json:"score"` // ensemble
	Scores      ModelScores  `json:"scores"`
	Threshold   Float        `json:"threshold"` // ensemble threshold
	Thresholds  ModelScores  `json:"thresholds"`
	TopFeatures []TopFeature `json:"top_features"`
	Model       string       `json:"model"` // bundle hash
	// Final is true when the flow has ended, false for a flow still active
	// (an interim score).
	Final bool `json:"final"`
	// Related lists the earlier connections of this flow's beacon: same
	// initiator, destination, port and protocol, started like clockwork
	// (features.Record.Related). The alert is about them too. Absent
	// when the timing is not clockwork.
	Related []RelatedFlow `json:"related_flows,omitempty"`
	// TLS holds the JA4 fingerprint of the flow's ClientHello, when it
	// had one whole in a packet (features.Record.JA4); absent otherwise.
	TLS *AlertTLS `json:"tls,omitempty"`
	// Username is the first user name the flow logged in with (FTP, POP3,
	// IMAP, HTTP Basic), only when detect runs with --show-usernames.
	Username string `json:"username,omitempty"`

	// lazy, when set, is the alert's own box: CommunityID was left empty
	// and is computed from it when the alert is written (incident mode,
	// where most alerts are only counted).
	lazy *alertBox
}

// fillCommunityID computes a lazy alert's Community ID.
func (a *Alert) fillCommunityID() {
	if b := a.lazy; b != nil {
		a.lazy = nil
		a.CommunityID = communityID(&job{id: b.id, community: b.community}, &b.cid)
	}
}

// AlertTLS is the "tls" object of an alert (Suricata's EVE names its JA4
// field the same).
type AlertTLS struct {
	JA4 string `json:"ja4"`
}

// RelatedFlow is an earlier connection named by an alert: the initiator's
// port, when it started, and its Community ID (the rest of its 5-tuple is
// the alert's).
type RelatedFlow struct {
	SrcPort     uint16 `json:"src_port"`
	Start       Time   `json:"start"`
	CommunityID string `json:"community_id"`
}

// AlertFlow is the "flow" object of an alert.
type AlertFlow struct {
	PktsToServer  uint64 `json:"pkts_toserver"`
	PktsToClient  uint64 `json:"pkts_toclient"`
	BytesToServer uint64 `json:"bytes_toserver"`
	BytesToClient uint64 `json:"bytes_toclient"`
	Start         Time   `json:"start"`
	End           Time   `json:"end"`
	// Reason says why a final record was emitted (idle, fin, rst, ...).
	Reason string `json:"reason,omitempty"`
	Seq    uint32 `json:"seq"` // record number within one flow key (active-timeout splits)
}

// ModelScores holds one value per model.
type ModelScores struct {
	IForest Float `json:"iforest"`
	KMeans  Float `json:"kmeans"`
}

// TopFeature is one feature that drove a score: its value, the baseline
// range [lo, hi] seen in training, and its share of the score.
type TopFeature struct {
	Name     string   `json:"name"`
	Value    Float    `json:"value"`
	Baseline [2]Float `json:"baseline"`
	Share    Float    `json:"share"`
}

// Time is a capture timestamp in Unix nanoseconds. It marshals as RFC 3339
// in UTC with microseconds, as Suricata's EVE does.
type Time int64

// RFC3339Micro is the layout of alert timestamps.
const RFC3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// Time returns t as a time.Time in UTC.
func (t Time) Time() time.Time { return time.Unix(0, int64(t)).UTC() }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return t.appendJSON(make([]byte, 0, len(RFC3339Micro)+2)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v.UnixNano())
	return nil
}

// Float is a float64 that marshals NaN and ±Inf as null instead of failing
// (encoding/json rejects them; a baseline bound can be infinite).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) { return f.appendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = Float(v)
	return err
}

// flowIDMask keeps a FlowKeyHash to 53 bits, the alert's flow_id, so that
// jq and JavaScript read it exactly.
const flowIDMask = 1<<53 - 1

// alertBox holds an alert and what its pointer, slice and string fields
// point to, so that an alert is one allocation, or a share of one: the
// workers take boxes from slabs (alertSlab).
type alertBox struct {
	a      Alert
	sp, dp uint16
	icmp   [2]uint8
	tls    AlertTLS
	vlan   [1]uint16
	cid    [32]byte // the Community ID's bytes ("1:" and 28 of base64)
	top    [defaultTopFeatures]TopFeature
	// The flow's key and the extractor's Community ID, kept for a lazy
	// Community ID (job.lazyCID).
	id        features.FlowID
	community string
}

// alertSlab is the number of alert boxes a worker allocates at once.
const alertSlab = 64

// box returns a zero alert box from the worker's slab, allocating a new
// slab when it is used up: one allocation per alertSlab alerts. A slab
// lives while any of its alerts does.
func (w *scoring) box() *alertBox {
	if len(w.boxes) == 0 {
		w.boxes = make([]alertBox, alertSlab)
	}
	b := &w.boxes[0]
	w.boxes = w.boxes[1:]
	return b
}

// newAlert builds an alert from a scored record.
func newAlert(j *job, s Scores, th Thresholds, model string, top []models.Contribution) *Alert {
	return newAlertIn(new(alertBox), j, s, th, model, top)
}

// newAlertIn is newAlert in box, which must be zero.
func newAlertIn(box *alertBox, j *job, s Scores, th Thresholds, model string, top []models.Contribution) *Alert {
	id := &j.id
	a := &box.a
	*a = Alert{
		Timestamp:  Time(j.at),
		EventType:  "anomaly",
		FlowID:     j.hash & flowIDMask,
		SrcIP:      id.Src,
		DestIP:     id.Dst,
		Proto:      features.ProtoName(id.Proto),
		Score:      Float(s.Ensemble),
		Scores:     ModelScores{IForest: Float(s.IForest), KMeans: Float(s.KMeans)},
		Threshold:  Float(th.Ensemble),
		Thresholds: ModelScores{IForest: Float(th.IForest), KMeans: Float(th.KMeans)},
		Model:      model,
		Final:      j.final,
		Flow: AlertFlow{
			PktsToServer:  j.fwdPkts,
			PktsToClient:  j.bwdPkts,
			BytesToServer: j.fwdBytes,
			BytesToClient: j.bwdBytes,
			Start:         Time(id.Start),
			End:           Time(id.End),
			Seq:           j.seq,
		},
	}
	if j.lazyCID {
		box.id, box.community = j.id, j.community
		a.lazy = box
	} else {
		a.CommunityID = communityID(j, &box.cid)
	}
	if len(top) <= len(box.top) {
		a.TopFeatures = box.top[:len(top):len(top)]
	} else {
		a.TopFeatures = make([]TopFeature, len(top))
	}
	if j.final {
		a.Flow.Reason = j.reason.String()
	}
	if len(j.related) > 0 {
		a.Related = make([]RelatedFlow, len(j.related))
		for i := range j.related {
			r := &j.related[i]
			a.Related[i] = RelatedFlow{SrcPort: r.Sport, Start: Time(r.Start), CommunityID: features.CommunityID(r)}
		}
	}
	if j.ja4 != "" {
		box.tls = AlertTLS{JA4: j.ja4}
		a.TLS = &box.tls
	}
	a.Username = j.user
	if id.Proto == 1 || id.Proto == 58 { // ICMP: type and code, no ports
		box.icmp = [2]uint8{uint8(id.Sport >> 8), uint8(id.Sport)}
		a.ICMPType, a.ICMPCode = &box.icmp[0], &box.icmp[1]
	} else {
		box.sp, box.dp = id.Sport, id.Dport
		a.SrcPort, a.DestPort = &box.sp, &box.dp
	}
	if id.VLAN != 0 {
		box.vlan[0] = id.VLAN
		a.VLAN = box.vlan[:]
	}
	for i, c := range top {
		a.TopFeatures[i] = TopFeature{Name: c.Name, Value: Float(c.Value), Baseline: [2]Float{Float(c.Lo), Float(c.Hi)}, Share: Float(c.Share)}
	}
	return a
}

// communityID is the flow's Community ID v1: the extractor's when it was
// asked for one, else computed here — for the alerting flows only, not for
// every record scored — into buf, which nothing writes afterwards.
func communityID(j *job, buf *[32]byte) string {
	if j.community != "" {
		return j.community
	}
	b := features.AppendCommunityID(buf[:0], &j.id)
	if len(b) > len(buf) || len(b) == 0 { // longer than v1's: b is a copy
		return string(b)
	}
	return unsafe.String(&buf[0], len(b))
}
