package features

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

const docsPath = "../docs/features.md"

// renderDocs renders the feature reference from FlowSchema.
func renderDocs() []byte {
	s := FlowSchema()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Flow features\n\n")
	fmt.Fprintf(&b, "<!-- Generated from features.FlowSchema by `go test ./features -run TestDocs -update`. Do not edit. -->\n\n")
	fmt.Fprintf(&b, "Schema `%s`, version %d, hash `%s`: %d features.\n\n", s.Name, s.Version, s.Hash(), s.Len())
	b.WriteString(`Each flow record is one row: the identity columns, then the features below in this
order. The *forward* direction is the sender of the flow's first packet (the initiator);
*backward* is the responder. Flows are bidirectional, keyed by the canonical 5-tuple plus the
outermost VLAN ID; ICMP echo request/reply by echo identifier, other ICMP by type and code.
A record ends on idle timeout (60 s), active timeout (300 s; the flow continues as a new
record with Seq+1), TCP FIN from both sides or RST (plus a 1 s grace for the last ACK),
eviction when the table is full, or end of input. Single-packet flows are kept. Times are
capture timestamps; durations are in seconds with microsecond resolution. Standard
deviations are population (divide by n). Values that are undefined (no backward packets,
fewer than two packets for a gap) are 0, except the initial windows (-1).

Known CICFlowMeter errors avoided: each FIN is counted once (not twice for the backward
direction), single-packet flows are not dropped on timeout, down/up ratio is a real ratio
(not integer-truncated), and rates of zero-duration flows are 0 (not infinite). Subflow
features are not computed.

Non-IP frames (ARP, LLDP, ...) and non-first IP fragments are counted in the run
statistics, not emitted as flows.

## Identity columns

| column | meaning |
|---|---|
| ts_start, ts_end | capture time of the first and last packet: Unix seconds with 9 decimals in CSV, timestamp(ns) in Parquet |
| src, sport | initiator address and port (ICMP: type<<8 | code of the first packet) |
| dst, dport | responder address and port (ICMP echo: identifier, else 0) |
| proto | IP protocol number |
| community_id | Community ID v1, seed 0 (empty with extract --no-community-id) |

Parquet files order columns by name (a property of Parquet groups); find them by name.

## Features

| # | name | unit | count | description |
|---|---|---|---|---|
`)
	for i, f := range s.Features {
		c := ""
		if f.Count {
			c = "yes"
		}
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s | %s |\n", i+1, f.Name, f.Unit, c, f.Description)
	}
	b.WriteString("\n*count*: a non-negative count-like value that a scaler may log1p-transform.\n")
	return b.Bytes()
}

// TestDocs fails when docs/features.md is stale; -update rewrites it.
func TestDocs(t *testing.T) {
	got := renderDocs()
	if *update {
		if err := os.WriteFile(docsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./features -run TestDocs -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./features -run TestDocs -update", docsPath)
	}
}
