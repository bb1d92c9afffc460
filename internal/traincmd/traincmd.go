// Package traincmd is the train command: flags, configuration and output.
// It lives outside cmd/train so that detect --demo and the tests run the
// same code.
package traincmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/version"
	"github.com/vigil-nids/vigil/models/bundle"
	"github.com/vigil-nids/vigil/models/iforest"
	"github.com/vigil-nids/vigil/models/kmeans"
	"github.com/vigil-nids/vigil/models/scale"
	"github.com/vigil-nids/vigil/train"
)

// Env is what the command takes from its surroundings (see cli.Env).
type Env = cli.Env

// Options are the train settings after flags, environment and config file.
type Options struct {
	Pcaps        []string
	Dataset      string
	Out          string
	Force        bool
	Seed         uint64
	TargetFPR    float64
	MaxRows      int
	MinFlows     int
	HoldOut      float64
	K            string
	Trees        int
	MaxSamples   int
	Extension    int
	Scaler       string
	Models       []string
	Idle, Active time.Duration
	MaxFlows     int
	Snapshot     time.Duration
	// Features is the feature set: "flow" (default) or "packet" (one
	// vector per IP packet; MaxFlows bounds each AfterImage table).
	Features string
	Quiet    bool
}

// New returns the train command.
func New(env *Env) *cobra.Command {
	e := env.Fill()
	cmd := &cobra.Command{
		Use:   "train (--pcap PATH... | --dataset FORMAT:PATH) --out MODEL",
		Short: "Learn normal traffic from baseline captures and write a model bundle",
		Long: `train extracts flow features from every baseline capture (pcap, pcapng, gzip'd,
or directories of them), keeps a uniform sample of at most --max-rows flows, fits
the scaler, the isolation forest and k-means, calibrates each model's threshold on
a held-out part of the baseline for --target-fpr, and writes one bundle atomically.
With --features packet the vectors are Kitsune's AfterImage statistics of every IP
packet instead (--max-rows and --min-flows then count packets).

Every flag can also be set as VIGIL_<FLAG> in the environment (e.g.
VIGIL_TARGET_FPR=0.01) or as a key in the YAML file given with --config;
a flag on the command line wins over the environment, which wins over the file.`,
		Example: `  train --pcap baseline.pcap --out model.vgl
  train --pcap /srv/pcaps/monday/ --pcap extra.pcap.gz --seed 7 --out model.vgl --force
  train --dataset nsl-kdd:KDDTrain+_20Percent.txt --out nsl.vgl`,
		Version: version.String(),
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("config", "", "YAML file of settings (keys are these flag names)")
	f.StringSlice("pcap", nil, "baseline capture file or directory (repeatable)")
	f.String("dataset", "", "labeled table FORMAT:PATH (nsl-kdd, unsw-nb15, cic-ids): train on its benign rows")
	f.StringP("out", "o", "", "model bundle to write")
	f.Bool("force", false, "overwrite --out if it exists")
	f.Uint64("seed", 1, "random seed: the same seed and inputs give the same models (a bit-identical file when SOURCE_DATE_EPOCH is set)")
	f.Float64("target-fpr", 0.001, "false-positive rate the thresholds are calibrated for on held-out baseline")
	f.Int("max-rows", 2_000_000, "keep a uniform sample of at most this many flows (packets with --features packet)")
	f.Int("min-flows", 100, "refuse a baseline with fewer flows (packets with --features packet)")
	f.Float64("holdout", 0.25, "fraction of the baseline held out to calibrate thresholds")
	f.String("k", strconv.Itoa(train.DefaultK), "k-means clusters, or auto (best silhouette over 2..12)")
	f.Int("trees", 100, "isolation forest trees")
	f.Int("max-samples", 256, "isolation forest rows per tree")
	f.Int("extension-level", 0, "extended isolation forest level (0 = plain)")
	f.String("scaler", "standard", "feature scaler: standard (mean/std) or robust (median/IQR)")
	f.StringSlice("models", []string{"iforest", "kmeans"}, "models to fit")
	f.Duration("idle-timeout", 60*time.Second, "flow idle timeout (capture time)")
	f.Duration("active-timeout", 300*time.Second, "flow active timeout: longer flows are split")
	f.Int("max-flows", 1_000_000, "flow table bound (--features packet: bound of each AfterImage table)")
	f.String("features", "flow", "feature set: flow (flow records) or packet (Kitsune's AfterImage, one vector per IP packet)")
	f.Duration("score-interval", 5*time.Second, "interval at which active flows are scored (detect uses the same)")
	f.BoolP("quiet", "q", false, "no progress or summary on stderr")
	cmd.SetOut(e.Stdout)
	cmd.SetErr(e.Stderr)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := cli.Resolve(c, e.Getenv); err != nil {
			return err
		}
		o, err := options(c)
		if err != nil {
			return err
		}
		return Run(o, e)
	}
	cli.Polish(cmd)
	return cmd
}

func options(c *cobra.Command) (Options, error) {
	f := c.Flags()
	var o Options
	o.Pcaps, _ = f.GetStringSlice("pcap")
	o.Dataset, _ = f.GetString("dataset")
	o.Out, _ = f.GetString("out")
	o.Force, _ = f.GetBool("force")
	o.Seed, _ = f.GetUint64("seed")
	o.TargetFPR, _ = f.GetFloat64("target-fpr")
	o.MaxRows, _ = f.GetInt("max-rows")
	o.MinFlows, _ = f.GetInt("min-flows")
	o.HoldOut, _ = f.GetFloat64("holdout")
	o.K, _ = f.GetString("k")
	o.Trees, _ = f.GetInt("trees")
	o.MaxSamples, _ = f.GetInt("max-samples")
	o.Extension, _ = f.GetInt("extension-level")
	o.Scaler, _ = f.GetString("scaler")
	o.Models, _ = f.GetStringSlice("models")
	o.Idle, _ = f.GetDuration("idle-timeout")
	o.Active, _ = f.GetDuration("active-timeout")
	o.MaxFlows, _ = f.GetInt("max-flows")
	o.Snapshot, _ = f.GetDuration("score-interval")
	o.Features, _ = f.GetString("features")
	if o.Features == "" {
		o.Features = "flow"
	}
	o.Quiet, _ = f.GetBool("quiet")
	switch {
	case len(o.Pcaps) == 0 && o.Dataset == "":
		return o, cli.Usagef("no input: give --pcap PATH (baseline captures) or --dataset FORMAT:PATH")
	case len(o.Pcaps) > 0 && o.Dataset != "":
		return o, cli.Usagef("--pcap and --dataset are exclusive: train on captures or on a table")
	case o.Out == "":
		return o, cli.Usagef("no --out: name the model bundle to write")
	case !(o.TargetFPR > 0 && o.TargetFPR < 0.5):
		return o, cli.Usagef("--target-fpr %v: want a rate in (0, 0.5)", o.TargetFPR)
	case o.MaxRows < 10:
		return o, cli.Usagef("--max-rows %d: want at least 10", o.MaxRows)
	case o.MinFlows < 10:
		return o, cli.Usagef("--min-flows %d: want at least 10", o.MinFlows)
	case !(o.HoldOut > 0 && o.HoldOut < 0.9):
		return o, cli.Usagef("--holdout %v: want a fraction in (0, 0.9)", o.HoldOut)
	case o.Trees < 1 || o.Trees > iforest.MaxTrees:
		return o, cli.Usagef("--trees %d: want 1..%d", o.Trees, iforest.MaxTrees)
	case o.MaxSamples < 2:
		return o, cli.Usagef("--max-samples %d: want at least 2", o.MaxSamples)
	case o.Features == "packet" && o.Dataset != "":
		return o, cli.Usagef("--features packet reads captures: use it with --pcap, not --dataset")
	}
	if o.K != "auto" {
		k, err := strconv.Atoi(o.K)
		if err != nil || k < 1 || k > kmeans.MaxK {
			return o, cli.Usagef("--k %q: want auto or a number of clusters in 1..%d", o.K, kmeans.MaxK)
		}
	}
	if o.Scaler != "standard" && o.Scaler != "robust" {
		return o, cli.Usagef("--scaler %q: want standard or robust", o.Scaler)
	}
	for _, m := range o.Models {
		if m != "iforest" && m != "kmeans" {
			return o, cli.Usagef("--models: unknown model %q (want iforest, kmeans)", m)
		}
	}
	if len(o.Models) == 0 {
		return o, cli.Usagef("--models is empty: fit iforest, kmeans or both")
	}
	if !o.Force {
		if _, err := os.Stat(o.Out); err == nil {
			return o, cli.Usagef("--out %q exists: pass --force to overwrite it", o.Out)
		}
	}
	return o, nil
}

// FitConfig returns the train.Config the options describe.
func (o Options) FitConfig(now func() time.Time) train.Config {
	cfg := train.Config{
		MinRows:   o.MinFlows,
		HoldOut:   o.HoldOut,
		TargetFPR: o.TargetFPR,
		Seed:      o.Seed,
		Forest:    iforest.Config{NEstimators: o.Trees, MaxSamples: o.MaxSamples, ExtensionLevel: o.Extension},
		Clock:     now,
	}
	if o.Scaler == "robust" {
		cfg.Scale = scale.Robust
	}
	if o.K != "auto" {
		cfg.KMeans.K, _ = strconv.Atoi(o.K)
	}
	cfg.NoForest, cfg.NoKMeans = true, true
	for _, m := range o.Models {
		switch m {
		case "iforest":
			cfg.NoForest = false
		case "kmeans":
			cfg.NoKMeans = false
		}
	}
	return cfg
}

// ExtractorConfig returns the feature extractor settings the options describe.
func (o Options) ExtractorConfig() features.Config {
	return features.Config{IdleTimeout: o.Idle, ActiveTimeout: o.Active, MaxFlows: o.MaxFlows, SnapshotInterval: o.Snapshot}
}

// PacketConfig returns the packet extractor settings the options
// describe, or nil for the flow feature set.
func (o Options) PacketConfig() *afterimage.Config {
	if o.Features != "packet" {
		return nil
	}
	return &afterimage.Config{MaxKeys: o.MaxFlows}
}

// Run trains and writes the bundle.
func Run(o Options, e *Env) error {
	e = e.Fill()
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.Quiet {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := e.Now()
	var (
		b   *bundle.Bundle
		err error
	)
	if o.Dataset != "" {
		b, err = fromDataset(o, e, log)
	} else {
		b, err = fromCaptures(o, e, log)
	}
	if err != nil {
		return err
	}
	if o.Dataset != "" {
		_, path, _ := datasets.ParseDatasetArg(o.Dataset)
		in, err := bundle.Fingerprint(path)
		if err != nil {
			return cli.Usage(err)
		}
		b.Meta.Inputs = append(b.Meta.Inputs, in)
	}
	b.Meta.Created = start.UTC()
	// Reproducible builds' convention: SOURCE_DATE_EPOCH fixes the creation
	// time, and the wall-clock stage timings stay out of the file, so the
	// same seed and inputs give a byte-identical bundle.
	if sde := e.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
		sec, err := strconv.ParseInt(sde, 10, 64)
		if err != nil || sec < 0 {
			return cli.Usagef("SOURCE_DATE_EPOCH=%q: want Unix seconds", sde)
		}
		b.Meta.Created = time.Unix(sec, 0).UTC()
		b.Meta.Timings = nil
	}
	b.Meta.VigilVersion = version.String()
	b.Meta.GoVersion = runtime.Version()
	if err := bundle.Save(o.Out, b, o.Force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return cli.Usagef("--out %q exists: pass --force to overwrite it", o.Out)
		}
		return fmt.Errorf("write model %q: %w", o.Out, err)
	}
	if !o.Quiet {
		fmt.Fprintf(e.Stderr, "model %s written: %s (hash %.16s), %.1fs\n", o.Out, b.Schema.Name, b.Hash(), e.Now().Sub(start).Seconds())
	}
	return nil
}

func fromCaptures(o Options, e *Env, log *slog.Logger) (*bundle.Bundle, error) {
	var prog *cli.Progress
	var read []string // the files capture.Open resolved the --pcap paths to
	cfg := train.CaptureConfig{
		Paths:     o.Pcaps,
		Extractor: o.ExtractorConfig(),
		Packet:    o.PacketConfig(),
		MaxRows:   o.MaxRows,
		Fit:       o.FitConfig(e.Now),
		Warn:      func(msg string) { log.Warn(msg) },
		Clock:     e.Now,
		OnOpen: func(f *capture.Files) {
			read = f.Paths()
			if !o.Quiet {
				prog = cli.StartProgress(e.Stderr, "reading", f.Stats().TotalBytes, func() int64 { return f.Stats().BytesRead })
			}
		},
	}
	b, sum, err := train.FromCaptures(cfg)
	if prog != nil {
		prog.Stop()
	}
	if err != nil {
		if errors.Is(err, train.ErrTooFew) {
			what := "flow records"
			if sum.Packet != nil {
				what = "IP packets"
			}
			return nil, cli.Usagef("baseline too small: %v %s (%d packets read); add captures or lower --min-flows", err, what, sum.Features.Packets)
		}
		var ie *train.InputError
		if errors.As(err, &ie) {
			return nil, cli.Usage(err)
		}
		return nil, err
	}
	if b.Meta.Inputs, err = bundle.FingerprintAll(read); err != nil {
		return nil, cli.Usage(err)
	}
	if !o.Quiet {
		printSummary(e.Stderr, sum)
	}
	return b, nil
}

func printSummary(w io.Writer, s train.Summary) {
	st := s.Features
	split := fmt.Sprintf("rows fitted %d, held out %d for the thresholds", s.Report.Rows, s.Report.HeldOut)
	if s.Report.Rows == s.Report.HeldOut {
		split = fmt.Sprintf("rows %d (small baseline: thresholds cross-fitted, every row scored by models that did not see it)", s.Report.Rows)
	}
	if p := s.Packet; p != nil {
		fmt.Fprintf(w, "packets %d (%d IP: one vector each, %d table entries evicted), %s\n",
			p.Packets, p.IP, p.Evicted, split)
		printThresholds(w, s)
		return
	}
	fmt.Fprintf(w, "packets %d (%d bytes, %d malformed), flows %d, records %d, %s\n",
		st.Packets, st.Bytes, st.Malformed, st.FlowsEmitted, s.Records, split)
	type pc struct {
		name string
		c    features.Counter
	}
	var parts []string
	for _, p := range []pc{{"ipv4", st.IPv4}, {"ipv6", st.IPv6}, {"tcp", st.TCP}, {"udp", st.UDP}, {"icmp", st.ICMP}, {"icmpv6", st.ICMPv6}, {"arp", st.ARP}, {"other-ip", st.OtherIP}, {"non-ip", st.NonIP}} {
		if p.c.Packets > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.c.Packets))
		}
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "per protocol (packets): %s\n", strings.Join(parts, ", "))
	printThresholds(w, s)
}

func printThresholds(w io.Writer, s train.Summary) {
	t := s.Report.Thresholds
	fmt.Fprintf(w, "thresholds: iforest %.6g, kmeans %.6g (k=%d), ensemble %.6g\n", t.IForest, t.KMeans, s.Report.K, t.Ensemble)
	var tm []string
	for _, x := range s.Report.Timings {
		tm = append(tm, fmt.Sprintf("%s %.2fs", x.Stage, x.Seconds))
	}
	fmt.Fprintf(w, "time: %s\n", strings.Join(tm, ", "))
	for _, line := range s.Report.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", line)
	}
}

func fromDataset(o Options, e *Env, log *slog.Logger) (*bundle.Bundle, error) {
	format, path, err := datasets.ParseDatasetArg(o.Dataset)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--dataset: %w", err))
	}
	enc, err := datasets.FitEncoderFile(format, path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	defer fh.Close()
	tr, err := enc.Open(fh, path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	schema := enc.Schema()
	res := train.NewReservoir(schema.Len(), o.MaxRows, o.Seed)
	var row []float64
	skipped := 0
	for {
		var label string
		row, label, err = tr.Next(row[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, cli.Usage(err)
		}
		if label != datasets.Benign {
			skipped++
			continue
		}
		res.Add(row)
	}
	b, rep, err := train.Fit(res, schema, o.FitConfig(e.Now))
	if err != nil {
		if errors.Is(err, train.ErrTooFew) {
			return nil, cli.Usagef("%s: too few benign rows to fit: %v", path, err)
		}
		return nil, err
	}
	encJSON, err := jsonMarshal(enc)
	if err != nil {
		return nil, err
	}
	b.Encoder = encJSON
	b.Meta.Flows = res.Seen()
	if !o.Quiet {
		st := tr.Stats()
		fmt.Fprintf(e.Stderr, "%s: %d rows read, %d benign used (sample %d), %d attack rows skipped, %d non-finite fields replaced\n",
			path, st.Rows, res.Seen(), res.Len(), skipped, st.Replaced)
		printSummary(e.Stderr, train.Summary{Report: rep})
	}
	return b, nil
}
