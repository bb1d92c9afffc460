package datasets_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/features"
)

func ExampleLoadLabels() {
	const csv = `start,end,src,dst,label,sport,dport,proto
1795707479.857003927,1795707479.889322996,10.77.0.21,10.77.0.10,sql_injection,51558,8080,tcp
1795707425,1795707428,10.77.0.0/24,10.77.0.10,syn_flood,,80,tcp
`
	l, err := datasets.LoadLabels(strings.NewReader(csv), "labels.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	sec := func(s float64) int64 { return int64(s * 1e9) }
	a := netip.MustParseAddr
	for _, id := range []features.FlowID{
		// The attack flow, seen from the server's side first.
		{Start: sec(1795707479.86), End: sec(1795707479.87), Src: a("10.77.0.10"), Sport: 8080, Dst: a("10.77.0.21"), Dport: 51558, Proto: 6},
		// The insider's own web traffic at the same time.
		{Start: sec(1795707479.86), End: sec(1795707479.87), Src: a("10.77.0.21"), Sport: 51560, Dst: a("10.77.0.10"), Dport: 80, Proto: 6},
		// Any host of the /24 to port 80 during the flood window.
		{Start: sec(1795707426), End: sec(1795707426), Src: a("10.77.0.42"), Sport: 2665, Dst: a("10.77.0.10"), Dport: 80, Proto: 6},
	} {
		label, row := l.Match(id)
		fmt.Println(label, row)
	}
	fmt.Println(l.UnmatchedReport(3) == "")
	// Output:
	// sql_injection 0
	// benign -1
	// syn_flood 1
	// true
}
