package incident_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-nids/vigil/detect/incident"
)

// A SYN flood on one service: the alerts become one incident, named from
// their features and counts when it ends.
func Example() {
	e := incident.New(incident.Config{}, func(ev *incident.Event) error {
		b := ev.Incident
		fmt.Printf("%s %s %s dest=%v alerts=%d ports=%d\n", b.State, b.Kind, b.Key, ev.DestIP, b.Alerts, b.DestPorts.Count)
		return nil
	})
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC).UnixNano()
	top := []string{"src_unanswered_60s", "src_conns_60s"}
	for i := range 200 {
		e.Add(&incident.Flow{At: t0 + int64(i)*int64(time.Millisecond), Src: netip.MustParseAddr("10.77.0.66"),
			Dst: netip.MustParseAddr("10.77.0.10"), Sport: uint16(2000 + i), Dport: 80, Proto: incident.TCP,
			Record: uint64(i), Packets: 1, Top: top})
	}
	e.Close()
	// Output:
	// start anomaly pair dest=10.77.0.10 alerts=1 ports=1
	// end syn_flood pair dest=10.77.0.10 alerts=200 ports=1
}
