package train

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/models/bundle"
)

// CaptureConfig configures FromCaptures.
type CaptureConfig struct {
	Paths     []string        // baseline capture files or directories
	Extractor features.Config // stored in the bundle so detect extracts alike
	// Packet, when set, selects the packet feature set (Kitsune's
	// AfterImage, one vector per IP packet) instead of flow records:
	// Extractor is then unused and the bundle stores *Packet instead.
	Packet  *afterimage.Config
	MaxRows int // reservoir size; default 2,000,000
	Fit     Config
	Warn    func(string)         // capture warnings (truncated files)
	OnOpen  func(*capture.Files) // e.g. to draw progress from Files.Stats
	Clock   func() time.Time     // stage timings; nil records none
}

// Summary is what FromCaptures saw.
type Summary struct {
	Features features.Stats // flow mode
	// Packet holds the packet extractor's counters (packet mode only).
	Packet  *afterimage.Stats
	Records int64 // vectors offered to the reservoir: flow records (final and interim) or IP packets
	Report  Report
}

// FromCaptures extracts flow records (or, with cfg.Packet, packet
// vectors) from baseline captures, keeps a uniform sample of at most
// MaxRows, and fits a bundle (see Fit). The bundle's Schema is the feature
// set's (Schema.Name "flow" or "packet") and its Extractor holds
// cfg.Extractor (or *cfg.Packet) as JSON; the caller sets Meta.Inputs,
// Meta.Created and Meta.VigilVersion.
func FromCaptures(cfg CaptureConfig) (*bundle.Bundle, Summary, error) {
	var sum Summary
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 2_000_000
	}
	src, err := capture.Open(cfg.Paths, capture.Options{Warn: cfg.Warn})
	if err != nil {
		return nil, sum, &InputError{err}
	}
	defer src.Close()
	if cfg.OnOpen != nil {
		cfg.OnOpen(src)
	}
	stage := newStager(cfg.Clock)
	schema := features.FlowSchema()
	if cfg.Packet != nil {
		schema = afterimage.Schema()
	}
	res := NewReservoir(schema.Len(), cfg.MaxRows, cfg.Fit.Seed)
	var (
		st features.Stats
		n  int64
	)
	if cfg.Packet != nil {
		var ps afterimage.Stats
		ps, n, err = ExtractPackets(src, *cfg.Packet, res)
		sum.Packet, sum.Records = &ps, n
		st.Packets = ps.Packets
		sum.Features.Packets = ps.Packets
	} else {
		st, n, err = Extract(src, cfg.Extractor, res)
		sum.Features, sum.Records = st, n
	}
	if err != nil {
		return nil, sum, &InputError{err}
	}
	stage.done("extract")
	b, rep, err := Fit(res, schema, cfg.Fit)
	sum.Report = rep
	if err != nil {
		return nil, sum, err
	}
	sum.Report.Timings = append(stage.timings, rep.Timings...)
	b.Meta.Timings = sum.Report.Timings
	b.Meta.Packets = int64(st.Packets)
	b.Meta.Flows = int64(st.FlowsEmitted)
	var ext []byte
	if cfg.Packet != nil {
		ext, err = json.Marshal(*cfg.Packet)
	} else {
		ext, err = json.Marshal(cfg.Extractor)
	}
	if err != nil {
		return nil, sum, fmt.Errorf("train: extractor settings: %w", err)
	}
	b.Extractor = ext
	return b, sum, nil
}

// InputError marks a failure of the input (an unreadable or corrupt
// capture) rather than of training.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }
