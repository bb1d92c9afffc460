package detect

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vigil-nids/vigil/detect/incident"
)

// AlertMode says what the alert sinks receive.
type AlertMode string

// Alert modes.
const (
	// AlertsFlow writes every flow alert (the zero value).
	AlertsFlow AlertMode = "flow"
	// AlertsIncident writes incident events (package incident) and, of
	// each incident, its first Config.Incidents.Samples flow alerts; the
	// other flow alerts are counted into their incident and not encoded.
	AlertsIncident AlertMode = "incident"
	// AlertsBoth writes incident events and every flow alert.
	AlertsBoth AlertMode = "both"
)

// ParseAlertMode reads a --alert-mode value.
func ParseAlertMode(s string) (AlertMode, error) {
	switch m := AlertMode(s); m {
	case AlertsFlow, AlertsIncident, AlertsBoth:
		return m, nil
	}
	return "", fmt.Errorf("alert mode %q: want flow, incident or both", s)
}

// EventSink is a Sink that also takes incident events. Sinks without it
// receive only the flow alerts.
type EventSink interface {
	Sink
	SendEvent(ev *incident.Event) error
}

// SendEvent implements EventSink: one JSON object per event, like alerts.
func (s *JSONLines) SendEvent(ev *incident.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var err error
	if s.buf, err = ev.AppendJSON(s.buf); err != nil {
		return fmt.Errorf("encode incident: %w", err)
	}
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= jsonFlushBytes {
		return s.flushLocked()
	}
	return nil
}

// SendEvent implements EventSink.
func (m *Memory) SendEvent(ev *incident.Event) error {
	m.mu.Lock()
	c := *ev
	m.events = append(m.events, &c)
	m.mu.Unlock()
	return nil
}

// Events returns the incident events received so far, in order.
func (m *Memory) Events() []*incident.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*incident.Event(nil), m.events...)
}

// IncidentSummary is the summary's "incidents" object (incident and both
// modes).
type IncidentSummary struct {
	incident.Stats
}

// alertOut is the alert goroutine's state: the incident engine, when the
// mode has one, and the counts of flow alerts written and suppressed.
type alertOut struct {
	mode      AlertMode
	engine    *incident.Engine
	cur       *Alert        // the alert being delivered
	cid       func() string // cur's Community ID, for the engine's samples
	flow      incident.Flow
	top       []string
	written   uint64
	suppressd uint64
	clock     atomic.Int64 // capture time the capture goroutine last published (live ticks)
}

func (r *run) newAlertOut(sinks []Sink) *alertOut {
	o := &alertOut{mode: r.cfg.AlertMode}
	if o.mode == "" {
		o.mode = AlertsFlow
	}
	if o.mode == AlertsFlow {
		return o
	}
	o.cid = func() string { o.cur.fillCommunityID(); return o.cur.CommunityID }
	m := r.cfg.Metrics
	o.engine = incident.New(r.cfg.Incidents, func(ev *incident.Event) error {
		if m != nil {
			m.incidentEvents.Add(1)
			if ev.Incident.State == "end" && ev.Incident.Reason != "merged" {
				m.incidents.WithLabelValues(ev.Incident.Kind).Inc()
			}
		}
		var first error
		for _, s := range sinks {
			if es, ok := s.(EventSink); ok {
				if err := es.SendEvent(ev); err != nil && first == nil {
					first = err
				}
			}
		}
		return first
	})
	return o
}

// deliver sends one alert: through the incident engine first (its start
// event goes before the alert), then to the sinks when the mode writes it.
func (r *run) deliver(o *alertOut, a *Alert, sinks []Sink) {
	r.alertsSent++
	write := o.mode != AlertsIncident
	if o.engine != nil {
		f := &o.flow
		o.top = o.top[:0]
		for _, t := range a.TopFeatures {
			o.top = append(o.top, t.Name)
		}
		*f = incident.Flow{
			At: int64(a.Timestamp), Src: a.SrcIP, Dst: a.DestIP, Proto: protoNumber(a),
			Record:  a.FlowID ^ uint64(a.Flow.Seq)<<53,
			Packets: a.Flow.PktsToServer + a.Flow.PktsToClient, Bytes: a.Flow.BytesToServer + a.Flow.BytesToClient,
			BwdPackets: a.Flow.PktsToClient, Score: float64(a.Score), Top: o.top, CommunityID: a.CommunityID,
		}
		if a.lazy != nil {
			o.cur, f.CommunityIDOf = a, o.cid
		}
		if a.SrcPort != nil {
			f.Sport, f.Dport = *a.SrcPort, *a.DestPort
		}
		id, sample, err := o.engine.Add(f)
		if err != nil && r.sinkErr == nil {
			r.sinkErr = err
		}
		if r.cfg.IncidentOf != nil {
			r.cfg.IncidentOf(a, id)
		}
		write = write || sample
	}
	if write {
		a.fillCommunityID()
		o.written++
		for _, s := range sinks {
			if err := s.Send(a); err != nil && r.sinkErr == nil {
				r.sinkErr = err
			}
		}
	} else {
		o.suppressd++
	}
	if m := r.cfg.Metrics; m != nil {
		if write {
			m.alertsWritten.Add(1)
		} else {
			m.alertsSuppressed.Add(1)
		}
	}
	if r.pcap != nil {
		r.pcap.mark(a.FlowID)
	}
}

// finish ends every open incident at the end of the input (capture time
// end): those idle by then end as idle, the others as closed.
func (r *run) finish(o *alertOut, end int64) {
	if o.engine == nil {
		return
	}
	err := o.engine.Advance(end)
	if cerr := o.engine.Close(); err == nil {
		err = cerr
	}
	if err != nil && r.sinkErr == nil {
		r.sinkErr = err
	}
}

// summarize fills the summary's alert-mode fields.
func (o *alertOut) summarize(s *Summary) {
	if o.mode == AlertsFlow {
		return
	}
	s.AlertMode = string(o.mode)
	s.AlertsWritten, s.AlertsSuppressed = o.written, o.suppressd
	s.Incidents = &IncidentSummary{o.engine.Stats()}
}

// liveTick is how often, in wall time, a run that is not a blocking replay
// moves the incident clock to the capture's time without alerts, so that
// idle incidents end on a quiet link.
const liveTick = time.Second

// protoNumber reads back an alert's protocol number (the ones the kind
// rules name; 0 for others).
func protoNumber(a *Alert) uint8 {
	switch a.Proto {
	case "TCP":
		return incident.TCP
	case "UDP":
		return incident.UDP
	case "ICMP":
		return incident.ICMP
	case "IPV6-ICMP":
		return incident.ICMPv6
	}
	return 0
}
