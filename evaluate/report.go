package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File names WriteDir writes.
const (
	JSONFile = "report.json"
	MDFile   = "report.md"
	ROCFile  = "roc.png"
	PRFile   = "pr.png"
)

// JSON returns report.json's content: indented, keys in a fixed order,
// ending in a newline.
func (r *Report) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("evaluate: encode report: %w", err)
	}
	return b.Bytes(), nil
}

// WriteDir writes report.json, report.md, roc.png and pr.png into dir,
// creating it if needed. Each file is written to a temporary file in dir
// and renamed into place, so a reader never sees a partial file.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	js, err := r.JSON()
	if err != nil {
		return err
	}
	roc, err := r.ROCPNG()
	if err != nil {
		return err
	}
	pr, err := r.PRPNG()
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{JSONFile, js},
		{MDFile, r.Markdown()},
		{ROCFile, roc},
		{PRFile, pr},
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) (err error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		// A rename would replace the node itself.
		return fmt.Errorf("evaluate: write %s: not a regular file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("evaluate: write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("evaluate: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("evaluate: write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("evaluate: write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("evaluate: write %s: %w", path, err)
	}
	return nil
}

// fmtNum formats v with prec decimals, or "n/a" for an undefined metric.
func addrOr(a netip.Addr) string {
	if !a.IsValid() {
		return "*"
	}
	return a.String()
}

func fmtNum(v *float64, prec int) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// mdEscape keeps a label or path from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

// Markdown returns report.md: the report as readable tables, with roc.png
// and pr.png embedded.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# vigil evaluation report\n\n")
	version := r.Version
	if version == "" {
		version = "(unknown)"
	}
	p("vigil %s; model `%s`.\n\n", mdEscape(version), mdEscape(r.Model))
	labels := make([]string, 0, len(r.Counts.PerLabel))
	for l := range r.Counts.PerLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	p("%d flows: %d benign, %d attack", r.Counts.Flows, r.Counts.Benign, r.Counts.Attack)
	if len(labels) > 0 {
		parts := make([]string, len(labels))
		for i, l := range labels {
			parts[i] = fmt.Sprintf("%s %d", mdEscape(l), r.Counts.PerLabel[l])
		}
		p(" (%s)", strings.Join(parts, ", "))
	}
	p(".\n\n")

	if u := r.Unmatched; u != nil && u.Count > 0 {
		p("> **Warning:** %d label row(s) matched no flow", u.Count)
		if len(u.First) > 0 {
			p("; the first:\n>\n")
			for _, s := range u.First {
				p("> - %s\n", mdEscape(s))
			}
		} else {
			p(".\n")
		}
		p("\n")
	}

	if len(r.Inputs) > 0 {
		p("## Inputs\n\n| file | bytes | SHA-256 |\n|---|---:|---|\n")
		for _, in := range r.Inputs {
			p("| %s | %d | `%s` |\n", mdEscape(in.Path), in.Size, mdEscape(in.SHA256))
		}
		p("\n")
	}

	p("## Overall\n\n")
	p("A flow is an alert when its score ≥ the model's calibrated threshold. ")
	p("Macro ROC-AUC is the mean of the per-label ROC-AUCs (each label against benign flows only); ")
	p("overall ROC-AUC is dominated by the label with the most flows.\n\n")
	p("| model | threshold | ROC-AUC | macro ROC-AUC | PR-AUC (AP) | precision | recall | F1 | FPR | TP | FP | TN | FN | FPR at recall 0.9 | recall at FPR 0.001 |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range r.ModelOrder {
		m := r.Models[name]
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d | %d | %s | %s |\n",
			mdEscape(name), strconv.FormatFloat(m.Threshold, 'g', 6, 64),
			fmtNum(m.ROCAUC, 4), fmtNum(m.MacroROCAUC, 4), fmtNum(m.PRAUC, 4),
			fmtNum(m.Precision, 4), fmtNum(m.Recall, 4), fmtNum(m.F1, 4), fmtNum(m.FPR, 5),
			m.TP, m.FP, m.TN, m.FN, fmtNum(m.FPRAtRecall09, 5), fmtNum(m.RecallAtFPR0001, 4))
	}
	p("\n")

	if len(labels) > 0 {
		p("## Per label\n\n")
		for _, name := range r.ModelOrder {
			m := r.Models[name]
			p("### %s\n\n", mdEscape(name))
			p("| label | flows | detected | recall | ROC-AUC vs benign | first-detection delay (s) |\n")
			p("|---|---:|---:|---:|---:|---:|\n")
			for _, l := range labels {
				ls := m.PerLabel[l]
				p("| %s | %d | %d | %.4f | %s | %s |\n", mdEscape(l), ls.Flows, ls.Detected, ls.Recall,
					fmtNum(ls.ROCAUC, 4), fmtNum(ls.FirstDetectionDelay, 3))
			}
			p("\nmacro ROC-AUC: %s\n\n", fmtNum(m.MacroROCAUC, 4))
		}
	}

	if ir := r.Incidents; ir != nil {
		p("## Incidents\n\n")
		p("detect's default alert mode groups the same alerts into %d incidents (%d more merged into them)", ir.Total, ir.Merged)
		kinds := slices.Sorted(maps.Keys(ir.ByKind))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", mdEscape(k), ir.ByKind[k])
		}
		if len(parts) > 0 {
			p(": %s", strings.Join(parts, ", "))
		}
		p(". Benign incidents (all of their flows benign): **%d**, %s per hour of capture (%.1f s). ", ir.Benign, fmtNum(ir.BenignPerHour, 3), ir.CaptureSeconds)
		p("Lines written: %d (incident events and sample flow alerts) for %d flow alerts (%s per flow alert).\n\n", ir.LinesWritten, ir.FlowAlerts, fmtNum(ir.LinesPerFlowAlert, 4))
		if len(ir.PerLabel) > 0 {
			p("| label | incidents | first-start delay (s) | flows in no incident | incidents (kind key src → dest: flows) |\n|---|---:|---:|---:|---|\n")
			for _, l := range slices.Sorted(maps.Keys(ir.PerLabel)) {
				li := ir.PerLabel[l]
				var cov []string
				for i, c := range li.Covering {
					if i == 4 {
						cov = append(cov, fmt.Sprintf("… %d more", len(li.Covering)-4))
						break
					}
					cov = append(cov, fmt.Sprintf("%s %s %s → %s: %d", mdEscape(c.Kind), c.Key, addrOr(c.Src), addrOr(c.Dest), c.Flows))
				}
				p("| %s | %d | %s | %d | %s |\n", mdEscape(l), li.Incidents, fmtNum(li.FirstStartDelay, 3), li.UncoveredFlows, strings.Join(cov, "; "))
			}
			p("\n")
		}
	}

	p("## Curves\n\n![ROC curves](%s)\n\n![Precision-recall curves](%s)\n", ROCFile, PRFile)

	var notes []string
	for _, name := range r.ModelOrder {
		reasons := r.Models[name].NullReasons
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			notes = append(notes, fmt.Sprintf("- %s `%s`: %s", mdEscape(name), mdEscape(k), reasons[k]))
		}
	}
	if len(notes) > 0 {
		p("\n## Undefined figures (n/a)\n\n%s\n", strings.Join(notes, "\n"))
	}
	return []byte(b.String())
}
