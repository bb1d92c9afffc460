package detect

import (
	"encoding/json"
	"fmt"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models"
	"github.com/vigil-nids/vigil/models/bundle"
)

// This file adapts the real components to the pipeline's small interfaces.

// FromBundle adapts a loaded bundle to Model. The caller checks the
// bundle's schema against the extractor first (bundle.CheckSchema).
func FromBundle(b *bundle.Bundle) Model { return bundleModel{b} }

type bundleModel struct{ b *bundle.Bundle }

func (m bundleModel) Hash() string { return m.b.Hash() }

func (m bundleModel) Thresholds() Thresholds {
	t := m.b.Thresholds
	return Thresholds{IForest: t.IForest, KMeans: t.KMeans, Ensemble: t.Ensemble}
}

func (m bundleModel) NewScorer() Scorer { return &bundleScorer{s: m.b.NewScorer()} }

type bundleScorer struct {
	s   *bundle.Scorer
	buf []bundle.Scores
}

func (s *bundleScorer) ScoreRows(dst []Scores, raw [][]float64) []Scores {
	s.buf = s.s.ScoreRows(s.buf, raw)
	dst = dst[:0]
	for _, v := range s.buf {
		dst = append(dst, Scores{IForest: v.IForest, KMeans: v.KMeans, Ensemble: v.Ensemble})
	}
	return dst
}

func (s *bundleScorer) ExplainRow(dst []models.Contribution, i int, raw []float64, sc Scores, n int) []models.Contribution {
	return s.s.ExplainRow(dst, i, raw, bundle.Scores{IForest: sc.IForest, KMeans: sc.KMeans, Ensemble: sc.Ensemble}, n)
}

func (s *bundleScorer) Score(raw []float64) Scores {
	v := s.s.Score(raw)
	return Scores{IForest: v.IForest, KMeans: v.KMeans, Ensemble: v.Ensemble}
}

func (s *bundleScorer) Explain(dst []models.Contribution, raw []float64, n int) []models.Contribution {
	return s.s.Explain(dst, raw, n)
}

func (s *bundleScorer) ExplainScored(dst []models.Contribution, raw []float64, sc Scores, n int) []models.Contribution {
	return s.s.ExplainScored(dst, raw, bundle.Scores{IForest: sc.IForest, KMeans: sc.KMeans, Ensemble: sc.Ensemble}, n)
}

// ExtractorConfig returns the extractor settings the bundle was trained
// with, so that detect extracts features alike. A bundle without them
// yields the zero Config (the defaults).
func ExtractorConfig(b *bundle.Bundle) (features.Config, error) {
	var c features.Config
	return c, extractorSettings(b, &c, "model extractor settings")
}

// extractorSettings decodes b's extractor settings into c, leaving c as
// it is when the bundle has none.
func extractorSettings(b *bundle.Bundle, c any, what string) error {
	if len(b.Extractor) == 0 {
		return nil
	}
	if err := json.Unmarshal(b.Extractor, c); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// NewFeaturesExtractor returns a features.Extractor as an Extractor.
func NewFeaturesExtractor(cfg features.Config, emit func(*features.Record)) Extractor {
	return featuresExtractor{features.NewExtractor(cfg, emit)}
}

type featuresExtractor struct{ e *features.Extractor }

func (f featuresExtractor) Process(data []byte, ci capture.CaptureInfo) { f.e.Process(data, ci) }
func (f featuresExtractor) Flush()                                      { f.e.Flush() }

func (f featuresExtractor) Stats() FlowStats {
	s := f.e.Stats()
	return FlowStats{
		Packets:   s.Packets,
		Bytes:     s.Bytes,
		Malformed: s.Malformed,
		Flows:     s.FlowsEmitted,
		Active:    s.ActiveFlows,
		MaxFlows:  f.e.Config().MaxFlows,
		Expired:   s.FlowsEmitted - min(s.Evicted, s.FlowsEmitted),
		Evicted:   s.Evicted,
		Protocols: map[string]uint64{
			"arp": s.ARP.Packets, "ipv4": s.IPv4.Packets, "ipv6": s.IPv6.Packets, "non_ip": s.NonIP.Packets,
			"tcp": s.TCP.Packets, "udp": s.UDP.Packets, "icmp": s.ICMP.Packets, "icmpv6": s.ICMPv6.Packets,
			"other_ip": s.OtherIP.Packets,
		},
		Apps: s.AppCounts(),
	}
}

func (c *Config) defaultExtractor() NewExtractorFunc {
	ec := c.Extractor
	if c.ScoreInterval > 0 {
		ec.SnapshotInterval = c.ScoreInterval
	}
	return func(emit func(*features.Record)) Extractor { return NewFeaturesExtractor(ec, emit) }
}
