package detect

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMetricsScrape(t *testing.T) {
	m := NewMetrics()
	pk := []fakePkt{fp(1, 20, 0, time.Second), fp(2, 5, 0, 2*time.Second), fp(1, 30, 1, 3*time.Second)}
	cfg := Config{Metrics: m, KernelStats: func() (uint64, uint64, error) { return 9, 2, nil }, AlertMode: AlertsIncident}
	runFake(t, cfg, &fakeModel{}, &sliceSource{pkts: pk})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen on loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	text := string(body)
	for _, want := range []string{
		"vigil_packets_total 3\n",
		"vigil_bytes_total 180\n",
		`vigil_alerts_total{model="ensemble"} 1` + "\n", // flow 1 ends at 3.0; flow 2 (0.5) does not alert
		"vigil_kernel_dropped_packets_total 2\n",
		"vigil_queue_dropped_vectors_total 0\n",
		"vigil_records_scored_total 2\n",
		"vigil_scoring_latency_seconds_count 2\n",
		"vigil_flows_active 0\n",
		// the one alert opened one incident (start, end at the input's end), written as its sample
		`vigil_incidents_total{kind="anomaly"} 1` + "\n",
		"vigil_incident_events_total 2\n",
		"vigil_alerts_written_total 1\n",
		"vigil_alerts_suppressed_total 0\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{"9108": "127.0.0.1:9108", ":9108": "127.0.0.1:9108",
		"0.0.0.0:9108": "0.0.0.0:9108", "[::1]:9108": "[::1]:9108"} {
		if got := MetricsAddr(in); got != want {
			t.Errorf("MetricsAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
