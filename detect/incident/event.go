package incident

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Event is one incident event, written as one JSON object per line beside
// the flow alerts (EVE style: "event_type": "incident"). src_ip is set
// when the incident is keyed by its source or by the pair, dest_ip when
// keyed by its target or by the pair. docs/alerts.md describes every field.
type Event struct {
	Timestamp Time       `json:"timestamp"`
	EventType string     `json:"event_type"`
	SrcIP     netip.Addr `json:"src_ip,omitzero"`
	DestIP    netip.Addr `json:"dest_ip,omitzero"`
	Incident  Body       `json:"incident"`
}

// Body is an event's "incident" object.
type Body struct {
	ID    string `json:"id"`
	State string `json:"state"` // start, update, end
	Kind  string `json:"kind"`
	Key   string `json:"key"` // target, source or pair
	// Reason says why an incident ended: idle, close (end of input or
	// signal), evicted (Config.MaxOpen reached), split (a port scan's
	// source turned to flooding one port: a new incident follows under the
	// same key) or merged (into MergedInto, which carries its counts on).
	Reason     string `json:"reason,omitempty"`
	MergedInto string `json:"merged_into,omitempty"`
	FirstSeen  Time   `json:"first_seen"`
	LastSeen   Time   `json:"last_seen"`
	// Alerts counts the flow alerts the incident stands for; Flows the
	// distinct flow records among them (exact up to 32, then estimated).
	Alerts           uint64         `json:"alerts"`
	AlertsSuppressed uint64         `json:"alerts_suppressed"`
	Flows            uint64         `json:"flows"`
	Packets          uint64         `json:"packets"`
	Bytes            uint64         `json:"bytes"`
	Src              Hosts          `json:"src"`
	Dest             Hosts          `json:"dest"`
	DestPorts        Ports          `json:"dest_ports"`
	PeakPPS          uint64         `json:"peak_pps"`
	MaxScore         float64        `json:"max_score"`
	TopFeatures      []FeatureCount `json:"top_features"`
	Samples          []string       `json:"samples"`
}

// Hosts is a distinct-host count (exact up to 32, then a HyperLogLog
// estimate) and the most frequent hosts by alerts.
type Hosts struct {
	Count uint64      `json:"count"`
	Top   []HostCount `json:"top"`
}

// HostCount is one host of a top list: the alerts it was in ("flows").
type HostCount struct {
	IP    netip.Addr `json:"ip"`
	Flows uint64     `json:"flows"`
}

// Ports is Hosts for destination ports (ICMP flows have none).
type Ports struct {
	Count uint64      `json:"count"`
	Top   []PortCount `json:"top"`
}

// PortCount is one port of a top list.
type PortCount struct {
	Port  uint16 `json:"port"`
	Flows uint64 `json:"flows"`
}

// FeatureCount is a feature that drove the incident's alerts: the number
// of its alerts that named it among their three top features.
type FeatureCount struct {
	Name   string `json:"name"`
	Alerts uint64 `json:"alerts"`
}

// Time is a capture timestamp in Unix nanoseconds, marshaled as RFC 3339
// in UTC with microseconds like the flow alerts' times.
type Time int64

const rfc3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// Time returns t as a time.Time in UTC.
func (t Time) Time() time.Time { return time.Unix(0, int64(t)).UTC() }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(rfc3339Micro)+2)
	b = append(b, '"')
	b = time.Unix(0, int64(t)).UTC().AppendFormat(b, rfc3339Micro)
	return append(b, '"'), nil
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

// AppendJSON appends ev's JSON encoding (no newline) to b.
func (ev *Event) AppendJSON(b []byte) ([]byte, error) {
	j, err := json.Marshal(ev)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// ErrNotIncident is returned by ParseEvent for a JSON object of another
// event_type (a flow alert).
var ErrNotIncident = errors.New("not an incident event")

// ParseEvent reads one line of an alerts file as an incident event. A line
// of another event_type returns ErrNotIncident; a malformed line or one
// missing the incident's id, state or kind returns an error saying what.
func ParseEvent(line []byte) (*Event, error) {
	var probe struct {
		EventType string `json:"event_type"`
	}
	line = bytes.TrimSpace(line)
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, fmt.Errorf("incident event: %w", err)
	}
	if probe.EventType != "incident" {
		return nil, ErrNotIncident
	}
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return nil, fmt.Errorf("incident event: %w", err)
	}
	b := &ev.Incident
	switch {
	case b.ID == "":
		return nil, errors.New("incident event: no incident.id")
	case b.State != "start" && b.State != "update" && b.State != "end":
		return nil, fmt.Errorf("incident event %s: state %q is not start, update or end", b.ID, b.State)
	case b.Kind == "":
		return nil, fmt.Errorf("incident event %s: no kind", b.ID)
	}
	return &ev, nil
}
