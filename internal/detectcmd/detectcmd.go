// Package detectcmd is the detect command: flags, configuration, sources,
// sinks, signals, and the --demo tour.
package detectcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/detect/incident"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/features/afterimage"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/version"
	"github.com/vigil-nids/vigil/models/bundle"
)

// Env is what the command takes from its surroundings; nil fields take the
// process's own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// Signals, when set, replaces SIGINT/SIGTERM handling: the run stops
	// when the context it returns is done.
	Signals func(context.Context) (context.Context, context.CancelFunc)
	// Dir is where --demo looks for the repository's testdata (default: the
	// working directory and its parents).
	Dir string
}

func (e *Env) fill() *Env {
	var out Env
	var base *cli.Env
	if e != nil {
		out = *e
		base = &cli.Env{Stdout: e.Stdout, Stderr: e.Stderr, Getenv: e.Getenv, Now: e.Now}
	}
	c := base.Fill()
	out.Stdout, out.Stderr, out.Getenv, out.Now = c.Stdout, c.Stderr, c.Getenv, c.Now
	if out.Signals == nil {
		out.Signals = func(ctx context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		}
	}
	return &out
}

// Options are the detect settings after flags, environment and file.
type Options struct {
	Model         string
	Pcaps         []string
	Iface         string
	BPF           string
	Snaplen       int
	Promisc       bool
	Alerts        string
	Summary       string
	WritePcap     string
	MetricsAddr   string
	Realtime      bool
	ScoreInterval time.Duration
	Workers       int
	QueueLen      int
	TopFeatures   int
	// ShowUsernames puts the first user name of a login (FTP, POP3, IMAP,
	// HTTP Basic) into alerts; off, none is read into memory.
	ShowUsernames bool
	// Features is the feature set asked for with --features: "" follows
	// the model; anything else must be the model's.
	Features string
	Force    bool
	Quiet    bool
	// AlertMode, Samples, IncidentUpdate, IncidentIdle and MaxIncidents
	// are the incident settings (detect.Config.AlertMode, incident.Config).
	AlertMode      string
	Samples        int
	IncidentUpdate time.Duration
	IncidentIdle   time.Duration
	MaxIncidents   int
	// CPUProfile, when set, receives a CPU profile of the run (hidden
	// --cpuprofile flag, for performance work).
	CPUProfile string
}

// New returns the detect command.
func New(env *Env) *cobra.Command {
	e := env.fill()
	cmd := &cobra.Command{
		Use:   "detect --model MODEL (--pcap PATH... | --iface NAME) | detect --demo",
		Short: "Score live or captured traffic against a model and emit alerts",
		Long: `detect extracts flows from captures (as fast as it can, or at capture speed with
--realtime) or from a live interface (pure-Go AF_PACKET; needs CAP_NET_RAW), scores every
flow when it ends and every active flow each --score-interval of capture time, and
writes one EVE-style JSON object per alert to --alerts (default stdout). At the end, or
on SIGINT/SIGTERM, every open flow is scored, every output flushed, and a summary printed.
A packet model (train --features packet) scores every IP packet as it arrives instead.

--demo trains on the sample baseline shipped in testdata/lab/, detects on the sample
mixed capture beside it and prints the top alerts and a summary: no network, no root.

Every flag can also be set as VIGIL_<FLAG> in the environment or as a key in the
YAML file given with --config; flag > environment > file > default.`,
		Example: `  detect --demo
  detect --model m.vgl --pcap mixed.pcap --alerts alerts.json --summary run.json
  detect --model m.vgl --iface eth0 --bpf 'not port 22' --metrics-addr :9108 | jq .score
  detect --model m.vgl --pcap /srv/pcaps/ --write-pcap anomalies.pcap --alerts /dev/null`,
		Version: version.String(),
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("config", "", "YAML file of settings (keys are these flag names)")
	f.Bool("demo", false, "train and detect on the sample data in testdata/lab/ (no other flags)")
	f.StringP("model", "m", "", "model bundle written by train")
	f.StringSlice("pcap", nil, "capture file or directory to replay (repeatable; - for stdin)")
	f.StringP("iface", "i", "", "live interface to capture on (needs CAP_NET_RAW)")
	f.String("bpf", "", "capture filter in tcpdump syntax (live capture; compiled with tcpdump -ddd)")
	f.Int("snaplen", 0, "live capture: bytes kept per frame (0 = whole frames)")
	f.Bool("promisc", false, "live capture: promiscuous mode")
	f.String("alerts", "-", "file for alert JSON lines (- = stdout)")
	f.String("summary", "", "file for the run summary JSON")
	f.String("write-pcap", "", "pcap file for the packets of flows that raised alerts")
	f.String("metrics-addr", "", "serve Prometheus /metrics here (a bare :PORT binds 127.0.0.1)")
	f.Bool("realtime", false, "replay captures at capture speed")
	f.String("features", "", "feature set: flow or packet (Kitsune's AfterImage, scored per IP packet); default and only choice: the model's")
	f.Duration("score-interval", 0, "score active flows this often in capture time (0 = the model's setting, default 5s)")
	f.Int("workers", 0, "scoring goroutines (0 = one per core)")
	f.Int("queue", 1024, "records queued per scoring worker before vectors are dropped (live) or the reader waits (replay)")
	f.Int("top-features", 5, "features named in each alert")
	f.Bool("show-usernames", false, "name the user of a login (FTP, POP3, IMAP, HTTP Basic) in its flow's alerts; passwords never appear")
	f.String("alert-mode", string(detect.AlertsIncident), "what --alerts gets: flow (every flow alert), incident (incident events and the first --samples flow alerts of each), both")
	f.Int("samples", incident.DefaultSamples, "flow alerts written per incident in --alert-mode incident")
	f.Duration("incident-update", incident.DefaultUpdate, "least capture time between two update events of a growing incident")
	f.Duration("incident-idle", incident.DefaultIdle, "capture time without alerts that ends an incident")
	f.Int("max-incidents", incident.DefaultMaxOpen, "open incidents at most (the least recently alerted is ended first)")
	f.Bool("force", false, "overwrite existing output files")
	f.BoolP("quiet", "q", false, "no summary on stderr")
	f.String("cpuprofile", "", "write a CPU profile of the run to this file")
	_ = f.MarkHidden("cpuprofile")
	cmd.SetOut(e.Stdout)
	cmd.SetErr(e.Stderr)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if demo, _ := c.Flags().GetBool("demo"); demo {
			var others []string
			c.Flags().Visit(func(fl *pflagFlag) {
				if fl.Name != "demo" {
					others = append(others, "--"+fl.Name)
				}
			})
			if len(others) > 0 {
				return cli.Usagef("--demo takes no other flags (got %v)", others)
			}
			return Demo(e)
		}
		if err := cli.Resolve(c, e.Getenv); err != nil {
			return err
		}
		var o Options
		fl := c.Flags()
		o.Model, _ = fl.GetString("model")
		o.Pcaps, _ = fl.GetStringSlice("pcap")
		o.Iface, _ = fl.GetString("iface")
		o.BPF, _ = fl.GetString("bpf")
		o.Snaplen, _ = fl.GetInt("snaplen")
		o.Promisc, _ = fl.GetBool("promisc")
		o.Alerts, _ = fl.GetString("alerts")
		o.Summary, _ = fl.GetString("summary")
		o.WritePcap, _ = fl.GetString("write-pcap")
		o.MetricsAddr, _ = fl.GetString("metrics-addr")
		o.Realtime, _ = fl.GetBool("realtime")
		o.ScoreInterval, _ = fl.GetDuration("score-interval")
		o.Workers, _ = fl.GetInt("workers")
		o.QueueLen, _ = fl.GetInt("queue")
		o.TopFeatures, _ = fl.GetInt("top-features")
		o.ShowUsernames, _ = fl.GetBool("show-usernames")
		o.Features, _ = fl.GetString("features")
		o.Force, _ = fl.GetBool("force")
		o.AlertMode, _ = fl.GetString("alert-mode")
		o.Samples, _ = fl.GetInt("samples")
		o.IncidentUpdate, _ = fl.GetDuration("incident-update")
		o.IncidentIdle, _ = fl.GetDuration("incident-idle")
		o.MaxIncidents, _ = fl.GetInt("max-incidents")
		o.Quiet, _ = fl.GetBool("quiet")
		o.CPUProfile, _ = fl.GetString("cpuprofile")
		return Run(o, e)
	}
	cli.Polish(cmd)
	return cmd
}

func (o Options) check() error {
	switch {
	case o.Model == "":
		return cli.Usagef("no --model: name the bundle written by train (or try --demo)")
	case len(o.Pcaps) == 0 && o.Iface == "":
		return cli.Usagef("no input: give --pcap PATH... or --iface NAME")
	case len(o.Pcaps) > 0 && o.Iface != "":
		return cli.Usagef("--pcap and --iface are exclusive")
	case o.BPF != "" && o.Iface == "":
		return cli.Usagef("--bpf filters a live capture: use it with --iface")
	case o.Realtime && o.Iface != "":
		return cli.Usagef("--realtime paces a replay: use it with --pcap")
	case o.ScoreInterval < 0:
		return cli.Usagef("--score-interval %v: want a positive duration (or 0 for the model's)", o.ScoreInterval)
	case o.AlertMode != "" && !validMode(o.AlertMode):
		return cli.Usagef("--alert-mode %q: want flow, incident or both", o.AlertMode)
	case o.Samples < 0 || o.MaxIncidents < 0 || o.IncidentUpdate < 0 || o.IncidentIdle < 0:
		return cli.Usagef("--samples, --max-incidents, --incident-update and --incident-idle want non-negative values")
	case o.Workers < 0 || o.QueueLen < 1 || o.TopFeatures < 0 || o.Snaplen < 0:
		return cli.Usagef("--workers, --queue, --top-features and --snaplen want non-negative numbers (--queue at least 1)")
	}
	if !o.Force {
		for _, p := range []string{o.Summary, o.WritePcap, o.Alerts} {
			if p == "" || p == "-" || cli.IsStream(p) {
				continue
			}
			if _, err := os.Stat(p); err == nil {
				return cli.Usagef("output %q exists: pass --force to overwrite it", p)
			}
		}
	}
	return nil
}

func validMode(s string) bool { _, err := detect.ParseAlertMode(s); return err == nil }

// LoadModel loads a bundle and checks that this build's extractor of the
// bundle's feature set (flow or packet) produces its schema.
func LoadModel(path string) (*bundle.Bundle, error) {
	b, err := bundle.Load(path)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--model: %w", err))
	}
	schema := features.FlowSchema()
	if detect.FeatureSet(b) == detect.PacketFeatures && len(b.Encoder) == 0 {
		schema = afterimage.Schema()
	}
	if err := b.CheckSchema(schema); err != nil {
		if len(b.Encoder) > 0 {
			return nil, cli.Usagef("--model %q was trained on a %s feature table; detect scores captures (use evaluate --dataset for tables)", path, b.Schema.Name)
		}
		return nil, cli.Usage(fmt.Errorf("--model %q: %w (retrain it with this build's train)", path, err))
	}
	return b, nil
}

// Run detects and writes the outputs.
func Run(o Options, e *Env) error {
	e = e.fill()
	if err := o.check(); err != nil {
		return err
	}
	b, err := LoadModel(o.Model)
	if err != nil {
		return err
	}
	if err := cli.MatchFeatures(o.Features, o.Model, detect.FeatureSet(b)); err != nil {
		return err
	}
	var (
		xcfg   features.Config
		newExt detect.NewExtractorFunc // nil: flows, from xcfg
	)
	if detect.FeatureSet(b) == detect.PacketFeatures {
		if o.ShowUsernames {
			return cli.Usagef("--show-usernames: %q is a packet model, whose features read no logins; it works with flow models", o.Model)
		}
		pcfg, err := detect.PacketConfig(b)
		if err != nil {
			return cli.Usage(fmt.Errorf("--model %q: %w", o.Model, err))
		}
		newExt = detect.NewPacketExtractor(pcfg)
	} else if xcfg, err = detect.ExtractorConfig(b); err != nil {
		return cli.Usage(fmt.Errorf("--model %q: %w", o.Model, err))
	}
	xcfg.Usernames = o.ShowUsernames
	cfg := detect.Config{
		NewExtractor:  newExt,
		Workers:       o.Workers,
		QueueLen:      o.QueueLen,
		Extractor:     xcfg,
		ScoreInterval: xcfg.SnapshotInterval,
		Realtime:      o.Realtime,
		TopFeatures:   o.TopFeatures,
		Clock:         detect.WallClock{},
		AlertMode:     detect.AlertMode(o.AlertMode),
		Incidents: incident.Config{Update: o.IncidentUpdate, Idle: o.IncidentIdle, MaxOpen: o.MaxIncidents,
			Samples: o.Samples},
	}
	if o.Samples == 0 {
		cfg.Incidents.Samples = -1 // --samples 0: none
	}
	if o.ScoreInterval > 0 {
		cfg.ScoreInterval = o.ScoreInterval
	}

	if o.CPUProfile != "" {
		pf, err := os.Create(o.CPUProfile)
		if err != nil {
			return cli.Usage(fmt.Errorf("--cpuprofile: %w", err))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	// The source.
	var src capture.Source
	warn := func(msg string) { fmt.Fprintf(e.Stderr, "warning: %s\n", msg) }
	if o.Iface != "" {
		live, err := capture.OpenLive(o.Iface, capture.LiveOptions{BPF: o.BPF, SnapLen: o.Snaplen, Promisc: o.Promisc})
		if err != nil {
			return cli.Usage(err)
		}
		defer live.Close()
		src = live
		cfg.Interrupt = func() { live.Close() }
		cfg.KernelStats = func() (uint64, uint64, error) {
			s, err := live.Stats()
			return s.Packets, s.Drops, err
		}
	} else {
		files, err := capture.Open(o.Pcaps, capture.Options{Warn: warn})
		if err != nil {
			return cli.Usage(err)
		}
		defer files.Close()
		src = files
		cfg.Block = !o.Realtime // replay: results must not depend on machine speed
	}

	// The signal context and the metrics listener come before the
	// outputs, and an output created here is removed again when a later
	// one fails: a refused run leaves no empty file behind that would
	// refuse the next run without --force.
	ctx, stop := e.Signals(context.Background())
	defer stop()
	if o.MetricsAddr != "" {
		m := detect.NewMetrics()
		cfg.Metrics = m
		errc := make(chan error, 1)
		go func() { errc <- detect.ServeMetrics(ctx, o.MetricsAddr, m) }()
		select {
		case err := <-errc:
			if err != nil {
				return cli.Usage(fmt.Errorf("--metrics-addr %q: %w", o.MetricsAddr, err))
			}
		case <-time.After(50 * time.Millisecond):
		}
	}

	var sink detect.Sink
	var created []string // outputs that did not exist before this run
	isNew := func(p string) bool { _, err := os.Lstat(p); return err != nil }
	if o.Alerts == "-" || o.Alerts == "" {
		sink = detect.NewJSONLines(e.Stdout)
	} else {
		fresh := isNew(o.Alerts)
		s, err := detect.CreateJSONLines(o.Alerts, o.Force)
		if err != nil {
			return outputErr("--alerts", err)
		}
		if fresh {
			created = append(created, o.Alerts)
		}
		sink = s
	}
	var pcapFile *os.File
	if o.WritePcap != "" {
		pcapFile, err = detect.CreateOutput(o.WritePcap, o.Force)
		if err != nil {
			sink.Close()
			for _, p := range created {
				os.Remove(p)
			}
			return outputErr("--write-pcap", err)
		}
		cfg.AnomalyPcap = pcapFile
	}

	var status *statusLine
	if !o.Quiet && cli.IsTerminal(e.Stderr) {
		if cfg.Metrics == nil {
			cfg.Metrics = detect.NewMetrics()
		}
		status = startStatus(e.Stderr, cfg.Metrics, e.Now)
	}
	sum, runErr := detect.New(detect.FromBundle(b), cfg).Run(ctx, src, sink)
	status.Stop()
	if pcapFile != nil {
		if err := errors.Join(detect.SyncFile(pcapFile), pcapFile.Close()); err != nil && runErr == nil {
			runErr = fmt.Errorf("--write-pcap: %w", err)
		}
	}
	if o.Summary != "" {
		if err := writeAtomic(o.Summary, sum.WriteJSON); err != nil && runErr == nil {
			runErr = fmt.Errorf("--summary: %w", err)
		}
	}
	if !o.Quiet {
		sum.WriteText(e.Stderr)
	}
	return runErr
}

func outputErr(flag string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return cli.Usagef("%s: %v (pass --force to overwrite it)", flag, err)
	}
	return cli.Usage(fmt.Errorf("%s: %w", flag, err))
}

// writeAtomic writes a file through a temporary file in the same
// directory, renamed into place once complete; a device or named pipe
// (cli.IsStream) is written directly.
func writeAtomic(path string, write func(io.Writer) error) error {
	if cli.IsStream(path) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return errors.Join(write(f), f.Close())
	}
	dir, base := splitPath(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	// CreateTemp makes the file 0600; the summary is an ordinary output,
	// readable like the alerts (detect.CreateOutput uses 0644).
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func splitPath(p string) (dir, base string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1], p[i+1:]
		}
	}
	return ".", p
}
