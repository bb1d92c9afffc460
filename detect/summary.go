package detect

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vigil-nids/vigil/features"
)

// Summary describes one run. Its JSON form is what `detect --summary FILE`
// writes; WriteText is the human form printed at exit.
type Summary struct {
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Malformed uint64 `json:"malformed"`
	Flows     uint64 `json:"flows"`   // final flow records
	Records   uint64 `json:"records"` // records emitted, interim snapshots included
	Scored    uint64 `json:"scored"`  // records scored (Records - Dropped.Internal)
	Alerts    uint64 `json:"alerts"`
	// AlertMode, AlertsWritten, AlertsSuppressed and Incidents are set in
	// the incident modes (Config.AlertMode): the flow alerts written and
	// those only counted into their incident, and what the incident
	// engine did.
	AlertMode        string           `json:"alert_mode,omitempty"`
	AlertsWritten    uint64           `json:"alerts_written,omitempty"`
	AlertsSuppressed uint64           `json:"alerts_suppressed,omitempty"`
	Incidents        *IncidentSummary `json:"incidents,omitempty"`
	// AlertsByModel counts alerts whose per-model score reached that
	// model's own threshold ("iforest", "kmeans"); "ensemble" counts all.
	AlertsByModel map[string]uint64 `json:"alerts_by_model"`
	Protocols     map[string]uint64 `json:"protocols"`
	// Applications counts final flow records, their packets and bytes
	// by application protocol (payload where the hints recognise it, else
	// the service port; features.AppProto). Absent for the packet
	// feature set, whose extractor keeps no flows.
	Applications map[string]features.AppCount `json:"applications,omitempty"`
	Dropped      Drops                        `json:"dropped"`
	// PcapPackets is the number of packets written to the anomaly pcap.
	PcapPackets      uint64  `json:"pcap_packets,omitempty"`
	ElapsedSeconds   float64 `json:"elapsed_seconds"`
	PacketsPerSecond float64 `json:"packets_per_second"`
	// CaptureStart and CaptureEnd span the packets' own timestamps.
	CaptureStart Time `json:"capture_start"`
	CaptureEnd   Time `json:"capture_end"`
}

// Drops counts what was lost.
type Drops struct {
	Kernel   uint64 `json:"kernel"`   // packets the kernel dropped (live capture)
	Internal uint64 `json:"internal"` // flow vectors dropped because scoring fell behind
	Pcap     uint64 `json:"pcap"`     // alerted-flow packets not written (ring evicted, per-flow bound, link type)
}

// WriteJSON writes s as one indented JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the human summary.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "packets   %d (%d bytes, %d malformed)\n", s.Packets, s.Bytes, s.Malformed)
	fmt.Fprintf(&b, "flows     %d (%d records, %d scored)\n", s.Flows, s.Records, s.Scored)
	fmt.Fprintf(&b, "alerts    %d", s.Alerts)
	if len(s.AlertsByModel) > 0 {
		fmt.Fprintf(&b, " (iforest %d, kmeans %d)", s.AlertsByModel["iforest"], s.AlertsByModel["kmeans"])
	}
	b.WriteByte('\n')
	if in := s.Incidents; in != nil {
		var n uint64
		kinds := make([]string, 0, len(in.ByKind))
		for k, c := range in.ByKind {
			n += c
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		fmt.Fprintf(&b, "incidents %d", n)
		for i, k := range kinds {
			sep := ", "
			if i == 0 {
				sep = " ("
			}
			fmt.Fprintf(&b, "%s%s %d", sep, k, in.ByKind[k])
		}
		if len(kinds) > 0 {
			b.WriteByte(')')
		}
		fmt.Fprintf(&b, "; %d events, %d evicted; flow alerts %d written, %d suppressed\n", in.Events, in.Evicted, s.AlertsWritten, s.AlertsSuppressed)
	}
	fmt.Fprintf(&b, "dropped   kernel %d, internal %d\n", s.Dropped.Kernel, s.Dropped.Internal)
	if len(s.Protocols) > 0 {
		b.WriteString("protocols")
		keys := make([]string, 0, len(s.Protocols))
		for k := range s.Protocols {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s %s %d", sep, k, s.Protocols[k])
		}
		b.WriteByte('\n')
	}
	if len(s.Applications) > 0 {
		b.WriteString("apps      flows/packets:")
		writeApps(&b, s.Applications, 8)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "elapsed   %.3f s, %.0f packets/s\n", s.ElapsedSeconds, s.PacketsPerSecond)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeApps writes the n application protocols with the most packets as
// " name flows/packets", comma-separated, then how many more there are.
func writeApps(b *strings.Builder, apps map[string]features.AppCount, n int) {
	names := make([]string, 0, len(apps))
	for k := range apps {
		names = append(names, k)
	}
	slices.SortFunc(names, func(x, y string) int {
		if c := cmp.Compare(apps[y].Packets, apps[x].Packets); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	for i, k := range names[:min(n, len(names))] {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, " %s %d/%d", k, apps[k].Flows, apps[k].Packets)
	}
	if len(names) > n {
		fmt.Fprintf(b, " (+%d more)", len(names)-n)
	}
}
