package detect

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-nids/vigil/features"
)

// Metrics are the pipeline's Prometheus metrics, in a registry of their
// own (never the global one). The capture goroutine publishes its counters
// into atomics every few thousand packets and at the end; scrapes read
// those, so a scrape never touches the flow table.
type Metrics struct {
	reg *prometheus.Registry

	packets, bytes          atomic.Uint64
	flowsActive, flowsMax   atomic.Int64
	flowsExpired, flowsEvic atomic.Uint64
	kernelDrops, queueDrops atomic.Uint64
	alertCount              atomic.Uint64
	alertsWritten           atomic.Uint64
	alertsSuppressed        atomic.Uint64
	incidentEvents          atomic.Uint64

	incidents *prometheus.CounterVec
	apps      appCollector

	alerts  *prometheus.CounterVec
	scored  prometheus.Counter
	latency prometheus.Histogram
}

// NewMetrics returns metrics registered in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	cf := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "vigil", Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vigil", Name: "alerts_total",
		Help: "Alerts raised, by model whose threshold the score reached (ensemble counts every alert)."}, []string{"model"})
	m.incidents = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vigil", Name: "incidents_total",
		Help: "Incidents ended (incident alert modes), by kind."}, []string{"kind"})
	m.scored = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vigil", Name: "records_scored_total",
		Help: "Flow records scored."})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "vigil", Name: "scoring_latency_seconds",
		Help:    "Time from a record leaving the flow table to its score (queueing included).",
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12)})
	m.reg.MustRegister(
		cf("packets_total", "Packets read from the capture.", &m.packets),
		cf("bytes_total", "Wire bytes read from the capture.", &m.bytes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vigil", Name: "flows_active", Help: "Flows in the flow table."},
			func() float64 { return float64(m.flowsActive.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vigil", Name: "flow_table_fill_ratio", Help: "Flows in the table over its capacity."},
			func() float64 {
				if mx := m.flowsMax.Load(); mx > 0 {
					return float64(m.flowsActive.Load()) / float64(mx)
				}
				return 0
			}),
		cf("flows_expired_total", "Flows ended by timeout or TCP close.", &m.flowsExpired),
		cf("flows_evicted_total", "Flows expired early because the flow table was full.", &m.flowsEvic),
		cf("kernel_dropped_packets_total", "Packets the kernel dropped (live capture).", &m.kernelDrops),
		cf("queue_dropped_vectors_total", "Flow vectors dropped because scoring fell behind.", &m.queueDrops),
		cf("alerts_written_total", "Flow alerts written to the sinks.", &m.alertsWritten),
		cf("alerts_suppressed_total", "Flow alerts counted into their incident and not written (incident alert mode).", &m.alertsSuppressed),
		cf("incident_events_total", "Incident events written (start, update, end).", &m.incidentEvents),
		m.alerts, m.incidents, m.scored, m.latency, &m.apps,
	)
	for _, l := range []string{"ensemble", "iforest", "kmeans"} {
		m.alerts.WithLabelValues(l)
	}
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Live is a snapshot of the counters, for a status line.
type Live struct {
	Packets, Bytes       uint64
	FlowsActive          int64
	FlowsEnded, Alerts   uint64
	KernelDrops, Dropped uint64
}

// Live returns the counters as last published (the capture goroutine
// publishes every few thousand packets). Safe for concurrent use.
func (m *Metrics) Live() Live {
	return Live{
		Packets: m.packets.Load(), Bytes: m.bytes.Load(),
		FlowsActive: m.flowsActive.Load(), FlowsEnded: m.flowsExpired.Load() + m.flowsEvic.Load(),
		Alerts: m.alertCount.Load(), KernelDrops: m.kernelDrops.Load(), Dropped: m.queueDrops.Load(),
	}
}

// Handler returns the /metrics handler.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) publish(pkts, bytes uint64, fs *FlowStats, kernelDrops, queueDrops uint64) {
	if m == nil {
		return
	}
	m.packets.Store(pkts)
	m.bytes.Store(bytes)
	if fs != nil {
		m.flowsActive.Store(int64(fs.Active))
		m.flowsMax.Store(int64(fs.MaxFlows))
		m.flowsExpired.Store(fs.Expired)
		m.flowsEvic.Store(fs.Evicted)
		m.apps.store(fs.Apps)
	}
	m.kernelDrops.Store(kernelDrops)
	m.queueDrops.Store(queueDrops)
}

// MetricsAddr completes a --metrics-addr value: a bare port ("9108" or
// ":9108") binds 127.0.0.1, so metrics are not exposed unless asked.
func MetricsAddr(addr string) string {
	if !strings.Contains(addr, ":") {
		return "127.0.0.1:" + addr
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// ServeMetrics serves m on addr (see MetricsAddr) at /metrics until ctx is
// done.
func ServeMetrics(ctx context.Context, addr string, m *Metrics) error {
	ln, err := net.Listen("tcp", MetricsAddr(addr))
	if err != nil {
		return err
	}
	return m.Serve(ctx, ln)
}

// Serve serves /metrics on ln until ctx is done; it closes ln.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(sctx)
			cancel()
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

var (
	appFlowsDesc = prometheus.NewDesc("vigil_app_flows_total",
		"Final flow records by application protocol (payload where recognised, else service port).", []string{"app"}, nil)
	appPacketsDesc = prometheus.NewDesc("vigil_app_packets_total",
		"Packets of the final flow records by application protocol.", []string{"app"}, nil)
	appBytesDesc = prometheus.NewDesc("vigil_app_bytes_total",
		"IP-layer bytes of the final flow records by application protocol.", []string{"app"}, nil)
)

// appCollector exports the per-application counts the capture goroutine
// last published; a scrape reads the snapshot, never the flow table.
type appCollector struct {
	mu   sync.Mutex
	apps map[string]features.AppCount
}

func (c *appCollector) store(apps map[string]features.AppCount) {
	if apps == nil {
		return
	}
	c.mu.Lock()
	c.apps = apps
	c.mu.Unlock()
}

func (c *appCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- appFlowsDesc
	ch <- appPacketsDesc
	ch <- appBytesDesc
}

func (c *appCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	apps := c.apps
	c.mu.Unlock()
	for k, v := range apps {
		ch <- prometheus.MustNewConstMetric(appFlowsDesc, prometheus.CounterValue, float64(v.Flows), k)
		ch <- prometheus.MustNewConstMetric(appPacketsDesc, prometheus.CounterValue, float64(v.Packets), k)
		ch <- prometheus.MustNewConstMetric(appBytesDesc, prometheus.CounterValue, float64(v.Bytes), k)
	}
}
