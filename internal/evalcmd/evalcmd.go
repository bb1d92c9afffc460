package evalcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/evaluate"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/version"
	"github.com/vigil-nids/vigil/models/bundle"
)

// Env is what the command takes from its surroundings (see cli.Env).
type Env = cli.Env

// Options are the evaluate settings after flags, environment and file.
type Options struct {
	Model         string
	Pcaps         []string
	Labels        string
	Dataset       string
	Out           string
	Force         bool
	Slack         time.Duration
	ScoreInterval time.Duration
	// Features is the feature set asked for with --features: "" follows
	// the model; anything else must be the model's.
	Features string
	Quiet    bool
}

// New returns the evaluate command.
func New(env *Env) *cobra.Command {
	e := env.Fill()
	cmd := &cobra.Command{
		Use:   "evaluate --model MODEL (--pcap PATH... --labels FILE | --dataset FORMAT:PATH) --out DIR",
		Short: "Measure a model against labeled captures or a labeled feature table",
		Long: `evaluate scores every flow of the captures (exactly as detect scores them, including
the scores of long flows while they are active) or every row of a labeled table, joins
the labels, and writes DIR/report.json, DIR/report.md, DIR/roc.png and DIR/pr.png: ROC-AUC,
PR-AUC, precision/recall/F1/FPR at the calibrated thresholds, per-label recall, ROC-AUC
and time to first detection, for each model and the ensemble. DIR/samples.csv holds one
line per flow (or row): its label, 5-tuple, span, and each model's score and alert. A packet model (train
--features packet) scores every IP packet; its samples are the bidirectional 5-tuples.

Labels: --labels FILE is a label windows CSV (start,end,src,dst,label and optional
sport,dport,proto; see DESIGN.md), or give --pcap FILE=LABEL to label every flow of a
file. Flows that match no label row are benign.`,
		Example: `  evaluate --model m.vgl --pcap mixed.pcap --labels labels.csv --out report/
  evaluate --model m.vgl --pcap scan.pcap=portscan --pcap monday.pcap=benign --out report/
  evaluate --model nsl.vgl --dataset nsl-kdd:KDDTest+.txt --out report/`,
		Version: version.String(),
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("config", "", "YAML file of settings (keys are these flag names)")
	f.StringP("model", "m", "", "model bundle written by train")
	f.StringSlice("pcap", nil, "capture file or directory, or FILE=LABEL (repeatable)")
	f.String("labels", "", "label windows CSV for the captures")
	f.String("dataset", "", "labeled table FORMAT:PATH (nsl-kdd, unsw-nb15, cic-ids)")
	f.StringP("out", "o", "", "directory for report.json, report.md, roc.png, pr.png, samples.csv")
	f.Bool("force", false, "overwrite the reports in an existing --out directory")
	f.Duration("label-slack", datasets.DefaultSlack, "widen every label window by this much on both sides")
	f.String("features", "", "feature set: flow or packet (Kitsune's AfterImage: packets scored, samples per 5-tuple); default and only choice: the model's")
	f.Duration("score-interval", 0, "score active flows this often (capture time); 0 = the model's setting")
	f.BoolP("quiet", "q", false, "no summary on stderr")
	cmd.SetOut(e.Stdout)
	cmd.SetErr(e.Stderr)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := cli.Resolve(c, e.Getenv); err != nil {
			return err
		}
		var o Options
		fl := c.Flags()
		o.Model, _ = fl.GetString("model")
		o.Pcaps, _ = fl.GetStringSlice("pcap")
		o.Labels, _ = fl.GetString("labels")
		o.Dataset, _ = fl.GetString("dataset")
		o.Out, _ = fl.GetString("out")
		o.Force, _ = fl.GetBool("force")
		o.Slack, _ = fl.GetDuration("label-slack")
		o.ScoreInterval, _ = fl.GetDuration("score-interval")
		o.Features, _ = fl.GetString("features")
		o.Quiet, _ = fl.GetBool("quiet")
		return Run(o, e)
	}
	cli.Polish(cmd)
	return cmd
}

// Run evaluates and writes the report.
func Run(o Options, e *Env) error {
	e = e.Fill()
	switch {
	case o.Model == "":
		return cli.Usagef("no --model: name the bundle written by train")
	case len(o.Pcaps) == 0 && o.Dataset == "":
		return cli.Usagef("no input: give --pcap PATH... with --labels FILE (or --pcap FILE=LABEL), or --dataset FORMAT:PATH")
	case len(o.Pcaps) > 0 && o.Dataset != "":
		return cli.Usagef("--pcap and --dataset are exclusive")
	case o.Dataset != "" && o.Labels != "":
		return cli.Usagef("--labels goes with --pcap; a --dataset table carries its own labels")
	case o.Out == "":
		return cli.Usagef("no --out: name the report directory")
	case o.Slack < 0:
		return cli.Usagef("--label-slack %v: want a non-negative duration", o.Slack)
	case o.ScoreInterval < 0:
		return cli.Usagef("--score-interval %v: want a positive duration (or 0 for the model's)", o.ScoreInterval)
	}
	if !o.Force {
		if _, err := os.Stat(o.Out + "/report.json"); err == nil {
			return cli.Usagef("--out %q already holds a report: pass --force to overwrite it", o.Out)
		}
	}
	b, err := bundle.Load(o.Model)
	if err != nil {
		return cli.Usage(fmt.Errorf("--model: %w", err))
	}
	var in *evaluate.Input
	if o.Dataset != "" {
		in, err = scoreTable(o, b, e)
	} else {
		in, err = scoreCaptures(o, b, e)
	}
	if err != nil {
		return err
	}
	if len(in.Samples) == 0 {
		what := "flows in the captures"
		if o.Dataset != "" {
			what = "rows in the table"
		}
		return cli.Usagef("nothing to evaluate: no %s", what)
	}
	in.ModelHash = b.Hash()
	in.Version = version.String()
	rep, err := evaluate.Evaluate(*in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return cli.Usage(fmt.Errorf("--out: %w", err))
	}
	if err := rep.WriteDir(o.Out); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := evaluate.WriteSamples(o.Out, in); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !o.Quiet {
		printSummary(e.Stderr, rep, o.Out)
	}
	return nil
}

func modelNames(b *bundle.Bundle) ([]string, []float64) {
	var names []string
	var th []float64
	if b.Forest != nil {
		names, th = append(names, "iforest"), append(th, b.Thresholds.IForest)
	}
	if b.KMeans != nil {
		names, th = append(names, "kmeans"), append(th, b.Thresholds.KMeans)
	}
	return append(names, "ensemble"), append(th, b.Thresholds.Ensemble)
}

func scoresOf(b *bundle.Bundle, s bundle.Scores, dst []float64) []float64 {
	dst = dst[:0]
	if b.Forest != nil {
		dst = append(dst, s.IForest)
	}
	if b.KMeans != nil {
		dst = append(dst, s.KMeans)
	}
	return append(dst, s.Ensemble)
}

func scoreTable(o Options, b *bundle.Bundle, e *Env) (*evaluate.Input, error) {
	format, path, err := datasets.ParseDatasetArg(o.Dataset)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--dataset: %w", err))
	}
	if len(b.Encoder) == 0 {
		return nil, cli.Usagef("--model %q was trained on captures (schema %q), not on a %s table", o.Model, b.Schema.Name, format)
	}
	var enc datasets.Encoder
	if err := json.Unmarshal(b.Encoder, &enc); err != nil {
		return nil, cli.Usage(fmt.Errorf("--model %q: its table encoder: %w", o.Model, err))
	}
	if enc.Format != format {
		return nil, cli.Usagef("--model %q was trained on a %s table, not %s", o.Model, enc.Format, format)
	}
	if err := b.CheckSchema(enc.Schema()); err != nil {
		return nil, cli.Usage(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--dataset: %w", err))
	}
	defer fh.Close()
	tr, err := enc.Open(fh, path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	names, th := modelNames(b)
	in := &evaluate.Input{Models: names, Thresholds: th}
	s := b.NewScorer()
	var row []float64
	for {
		var label string
		row, label, err = tr.Next(row[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, cli.Usage(err)
		}
		in.Samples = append(in.Samples, evaluate.Sample{Label: label, Scores: scoresOf(b, s.Score(row), make([]float64, 0, len(names)))})
	}
	fp, err := bundle.Fingerprint(path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	in.Inputs = append(in.Inputs, evaluate.Fingerprint(fp))
	if !o.Quiet {
		st := tr.Stats()
		fmt.Fprintf(e.Stderr, "%s: %d rows scored, %d non-finite fields replaced, %d unseen categories\n", path, st.Rows, st.Replaced, st.Unknown)
	}
	return in, nil
}

func printSummary(w io.Writer, rep *evaluate.Report, dir string) {
	fmt.Fprintf(w, "report written to %s (report.json, report.md, roc.png, pr.png, samples.csv)\n", dir)
	f := func(p *float64) string {
		if p == nil {
			return "   -  "
		}
		return fmt.Sprintf("%6.4f", *p)
	}
	fmt.Fprintf(w, "%-9s %8s %8s %8s %8s %8s %10s\n", "model", "roc_auc", "macro", "pr_auc", "recall", "fpr", "precision")
	for _, name := range rep.ModelOrder {
		m := rep.Models[name]
		fmt.Fprintf(w, "%-9s %8s %8s %8s %8s %8s %10s\n", name, f(m.ROCAUC), f(m.MacroROCAUC), f(m.PRAUC), f(m.Recall), f(m.FPR), f(m.Precision))
	}
	if m := rep.Models["ensemble"]; m != nil && len(m.PerLabel) > 0 {
		labels := make([]string, 0, len(m.PerLabel))
		for l := range m.PerLabel {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		fmt.Fprintf(w, "ensemble per label: %-20s %7s %8s %8s %8s %9s\n", "label", "flows", "detected", "recall", "roc_auc", "delay_s")
		for _, l := range labels {
			ls := m.PerLabel[l]
			d := "   -"
			if ls.FirstDetectionDelay != nil {
				d = fmt.Sprintf("%9.3f", *ls.FirstDetectionDelay)
			}
			fmt.Fprintf(w, "                    %-20s %7d %8d %8s %8s %9s\n", l, ls.Flows, ls.Detected, f(&ls.Recall), f(ls.ROCAUC), d)
		}
	}
}
