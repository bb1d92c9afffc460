package evalcmd

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/datasets"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/evaluate"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/detectcmd"
	"github.com/vigil-nids/vigil/internal/traincmd"
	"github.com/vigil-nids/vigil/models/bundle"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-report.json")

// The tests run the real train, evaluate and detect commands on the
// repository's sample data: ../../testdata/lab (a 60 s benign baseline and
// a 27 s mixed cut of the lab with its label windows), the NSL-KDD heads in
// ../../datasets/testdata, and testdata/insider (a cut of lab-insider with
// its per-flow label rows). See the READMEs there.
const (
	repo        = "../.."
	baseline    = repo + "/testdata/lab/baseline.pcap.gz"
	mixed       = repo + "/testdata/lab/mixed.pcap.gz"
	labelsFile  = repo + "/testdata/lab/labels.csv"
	nslTrain    = repo + "/datasets/testdata/nslkdd-train-head200.txt"
	nslTest     = repo + "/datasets/testdata/nslkdd-test-head200.txt"
	unswTest    = repo + "/datasets/testdata/unsw-test.csv"
	insiderPcap = "testdata/insider/mixed.pcap.gz"
	insiderCSV  = "testdata/insider/labels.csv"
	goldenFile  = "testdata/golden-report.json"
)

// The metric keys every model block of report.json must carry, and the
// keys of every per_label entry.
var (
	modelKeys = []string{"roc_auc", "pr_auc", "precision", "recall", "f1", "fpr", "tp", "fp", "tn", "fn",
		"fpr_at_recall_0.9", "recall_at_fpr_0.001", "macro_roc_auc", "per_label"}
	labelKeys = []string{"flows", "detected", "recall", "roc_auc", "first_detection_delay_s"}
	allModels = []string{"iforest", "kmeans", "ensemble"}
)

type result struct {
	code           int
	stdout, stderr string
}

func runEval(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := cli.Run(New(e), args, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// train runs the real train command with a fixed seed and clock and
// returns the bundle's path.
func train(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "model.vgl")
	var stderr bytes.Buffer
	e := &traincmd.Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" },
		Now: func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) }}
	args = append(args, "--out", out, "--seed", "7", "-q")
	if code := cli.Run(traincmd.New(e), args, &stderr); code != 0 {
		t.Fatalf("train %v: exit %d: %s", args, code, stderr.String())
	}
	return out
}

func trainLab(t *testing.T) string { return train(t, "--pcap", baseline) }

// evalOK runs evaluate, requires exit 0, and returns the decoded report,
// its generic form (to check key presence) and the run's stderr.
func evalOK(t *testing.T, args ...string) (*evaluate.Report, map[string]any, string) {
	t.Helper()
	r := runEval(t, args...)
	if r.code != 0 {
		t.Fatalf("evaluate %v: exit %d: %s", args, r.code, r.stderr)
	}
	var out string
	for i, a := range args {
		if (a == "--out" || a == "-o") && i+1 < len(args) {
			out = args[i+1]
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep evaluate.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return &rep, raw, r.stderr
}

// finalFlows runs a features.Extractor over the captures with the model's
// extractor settings and returns the identity of every final flow record:
// the flows evaluate should count (interim snapshots are not flows).
func finalFlows(t *testing.T, model string, pcaps ...string) []features.FlowID {
	t.Helper()
	b, err := bundle.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := detect.ExtractorConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SnapshotInterval = 0
	var ids []features.FlowID
	x := features.NewExtractor(cfg, func(r *features.Record) {
		if r.Final {
			ids = append(ids, r.FlowID)
		}
	})
	src, err := capture.Open(pcaps, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for n := 0; ; n++ {
		if n > 10_000_000 {
			t.Fatal("capture does not end")
		}
		data, ci, err := src.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x.Process(data, ci)
	}
	x.Flush()
	if len(ids) == 0 {
		t.Fatalf("%v: no flows", pcaps)
	}
	return ids
}

// labelFlows labels every flow with a fresh load of the label file and
// returns the per-label counts and the loaded labels (with their match
// counts, for Unmatched).
func labelFlows(t *testing.T, path string, ids []features.FlowID) (map[string]int, []string, *datasets.Labels) {
	t.Helper()
	l, err := datasets.LoadLabelsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	labels := make([]string, len(ids))
	for i, id := range ids {
		labels[i], _ = l.Match(id)
		n[labels[i]]++
	}
	return n, labels, l
}

// checkReport checks what holds for every report: the keys, the confusion
// counts summing to the sample count, the per-label counts against want
// (label → flows, benign included), detections summing to tp.
func checkReport(t *testing.T, rep *evaluate.Report, raw map[string]any, want map[string]int, models []string) {
	t.Helper()
	total := 0
	for _, n := range want {
		total += n
	}
	if rep.Counts.Flows != total || rep.Counts.Benign != want[evaluate.Benign] || rep.Counts.Attack != total-want[evaluate.Benign] {
		t.Errorf("counts: flows %d benign %d attack %d, want %d, %d, %d",
			rep.Counts.Flows, rep.Counts.Benign, rep.Counts.Attack, total, want[evaluate.Benign], total-want[evaluate.Benign])
	}
	attacks := map[string]int{}
	for l, n := range want {
		if l != evaluate.Benign {
			attacks[l] = n
		}
	}
	if !reflect.DeepEqual(rep.Counts.PerLabel, attacks) {
		t.Errorf("counts.per_label = %v, want %v", rep.Counts.PerLabel, attacks)
	}
	if !reflect.DeepEqual(rep.ModelOrder, models) {
		t.Errorf("model_order = %v, want %v", rep.ModelOrder, models)
	}
	rawModels, _ := raw["models"].(map[string]any)
	for _, name := range models {
		m := rep.Models[name]
		rm, _ := rawModels[name].(map[string]any)
		if m == nil || rm == nil {
			t.Errorf("report has no model %q", name)
			continue
		}
		for _, k := range modelKeys {
			if _, ok := rm[k]; !ok {
				t.Errorf("%s: no %q in report.json", name, k)
			}
		}
		if got := m.TP + m.FP + m.TN + m.FN; got != int64(total) {
			t.Errorf("%s: tp+fp+tn+fn = %d, want %d flows", name, got, total)
		}
		if m.TP+m.FN != int64(total-want[evaluate.Benign]) || m.FP+m.TN != int64(want[evaluate.Benign]) {
			t.Errorf("%s: tp+fn %d, fp+tn %d; want %d attack, %d benign", name, m.TP+m.FN, m.FP+m.TN, total-want[evaluate.Benign], want[evaluate.Benign])
		}
		rpl, _ := rm["per_label"].(map[string]any)
		var detected int64
		for l, n := range attacks {
			ls := m.PerLabel[l]
			rl, _ := rpl[l].(map[string]any)
			if ls == nil || rl == nil {
				t.Errorf("%s: per_label has no %q", name, l)
				continue
			}
			for _, k := range labelKeys {
				if _, ok := rl[k]; !ok {
					t.Errorf("%s: per_label[%q] has no %q", name, l, k)
				}
			}
			if ls.Flows != n {
				t.Errorf("%s: per_label[%q].flows = %d, want %d", name, l, ls.Flows, n)
			}
			if ls.Detected < 0 || ls.Detected > ls.Flows || math.Abs(ls.Recall-float64(ls.Detected)/float64(ls.Flows)) > 1e-12 {
				t.Errorf("%s: per_label[%q]: detected %d of %d, recall %v", name, l, ls.Detected, ls.Flows, ls.Recall)
			}
			detected += int64(ls.Detected)
		}
		if len(m.PerLabel) != len(attacks) {
			t.Errorf("%s: per_label has %d labels, want %d", name, len(m.PerLabel), len(attacks))
		}
		if detected != m.TP {
			t.Errorf("%s: per-label detections sum to %d, tp = %d", name, detected, m.TP)
		}
	}
}

func TestCaptures(t *testing.T) {
	model := trainLab(t)
	out := filepath.Join(t.TempDir(), "report")
	rep, raw, stderr := evalOK(t, "--model", model, "--pcap", mixed, "--labels", labelsFile, "--out", out)

	for _, f := range []string{"report.json", "report.md", "roc.png", "pr.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, f := range []string{"roc.png", "pr.png"} {
		fh, err := os.Open(filepath.Join(out, f))
		if err != nil {
			continue
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("%s: %v: too small", f, b)
		}
	}
	if md, err := os.ReadFile(filepath.Join(out, "report.md")); err == nil {
		for _, s := range []string{"roc.png", "pr.png", "portscan_syn", "syn_flood"} {
			if !bytes.Contains(md, []byte(s)) {
				t.Errorf("report.md does not mention %s", s)
			}
		}
	}

	// Independent labelling: every final flow record of the capture, matched
	// against a fresh load of the label windows.
	ids := finalFlows(t, model, mixed)
	want, _, l := labelFlows(t, labelsFile, ids)
	for _, a := range []string{"portscan_syn", "syn_flood"} {
		if want[a] == 0 {
			t.Fatalf("independent labelling finds no %s flow in the sample", a)
		}
	}
	checkReport(t, rep, raw, want, allModels)
	checkSamples(t, filepath.Join(out, "samples.csv"), rep, ids)

	ens := rep.Models["ensemble"]
	for _, a := range []string{"portscan_syn", "syn_flood"} {
		if ls := ens.PerLabel[a]; ls == nil || float64(ls.Detected) < 0.9*float64(ls.Flows) {
			t.Errorf("ensemble %s: %+v, want recall ≥ 0.9", a, ls)
		} else if ls.FirstDetectionDelay == nil {
			t.Errorf("ensemble %s: detected but no first_detection_delay_s", a)
		}
	}

	// The sample cut holds only some of the lab's windows: the others must
	// be reported, in report.json and as a warning.
	unmatched := l.Unmatched()
	if len(unmatched) == 0 {
		t.Fatal("independent labelling matched every window; the fixture should leave some unmatched")
	}
	if rep.Unmatched == nil || rep.Unmatched.Count != len(unmatched) {
		t.Errorf("unmatched_labels = %+v, want count %d", rep.Unmatched, len(unmatched))
	} else {
		for i, s := range rep.Unmatched.First {
			r := l.Rows[unmatched[i]]
			if w := fmt.Sprintf(":%d %s", r.Line, r.Label); !strings.Contains(s, w) {
				t.Errorf("unmatched_labels.first[%d] = %q, want line %d (%s)", i, s, r.Line, r.Label)
			}
		}
	}
	if w := warningLine(stderr); !strings.Contains(w, fmt.Sprintf("%d of %d label rows matched no flow", len(unmatched), len(l.Rows))) {
		t.Errorf("stderr warning %q; stderr:\n%s", w, stderr)
	}

	checkGolden(t, filepath.Join(out, "report.json"))

	// The same inputs give the same report.json, byte for byte, whatever
	// the scoring goroutines' interleaving (--force replaces the report).
	first, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	evalOK(t, "--model", model, "--pcap", mixed, "--labels", labelsFile, "--out", out, "--force", "-q")
	if again, _ := os.ReadFile(filepath.Join(out, "report.json")); !bytes.Equal(again, first) {
		t.Error("a second run wrote a different report.json")
	}
}

func warningLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "warning: ") {
			return line
		}
	}
	return ""
}

// checkGolden compares report.json with testdata/golden-report.json for the
// fixed seed, numbers within 1e-9 (relative). "model" (the bundle hash) and
// "vigil_version" are left out. The metrics themselves depend on the flow
// features, which are still changing: when a feature change moves them,
// regenerate with `go test ./internal/evalcmd -run TestCaptures -update`
// and review the diff (the golden file is the record of what changed).
func checkGolden(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "model")
	delete(got, "vigil_version")
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err = os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want map[string]any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	diffJSON("", got, want, &diffs)
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… %d more", len(diffs)-20))
		}
		t.Errorf("report.json differs from %s (if a feature change explains it, regenerate with -update):\n%s", goldenFile, strings.Join(diffs, "\n"))
	}
}

func diffJSON(path string, got, want any, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want an object", path, got))
			return
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing", path, k))
			case !wok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected %v", path, k, gv))
			default:
				diffJSON(path+"."+k, gv, wv, diffs)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want %v", path, got, want))
			return
		}
		for i := range w {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], diffs)
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		}
	default:
		if !reflect.DeepEqual(got, want) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		}
	}
}

// flowKey identifies a flow by what an alert shows of it: endpoints, ports
// (ICMP: type and code, no identifier), protocol and start.
type flowKey struct {
	src, dst     string
	sport, dport uint16
	proto        uint8
	start        int64
}

func keyOfFlow(id features.FlowID) flowKey {
	k := flowKey{src: id.Src.Unmap().String(), dst: id.Dst.Unmap().String(), sport: id.Sport, dport: id.Dport, proto: id.Proto, start: id.Start}
	if id.Proto == 1 || id.Proto == 58 {
		k.dport = 0
	}
	return k
}

func keyOfAlert(t *testing.T, a *detect.Alert) flowKey {
	t.Helper()
	k := flowKey{src: a.SrcIP.Unmap().String(), dst: a.DestIP.Unmap().String(), start: int64(a.Flow.Start)}
	found := false
	for p := 0; p < 256; p++ {
		if features.ProtoName(uint8(p)) == a.Proto {
			k.proto, found = uint8(p), true
			break
		}
	}
	if !found {
		t.Errorf("alert proto %q: unknown", a.Proto)
	}
	switch {
	case a.ICMPType != nil:
		k.sport = uint16(*a.ICMPType) << 8
		if a.ICMPCode != nil {
			k.sport |= uint16(*a.ICMPCode)
		}
	case a.SrcPort != nil && a.DestPort != nil:
		k.sport, k.dport = *a.SrcPort, *a.DestPort
	}
	return k
}

// TestScoresAsDetect: evaluate scores exactly as detect does. The flows
// detect alerts on (distinct by flow_id and start, interim and final
// alerts alike) are the flows evaluate counts as detected by the ensemble,
// in number and per label.
//
// It runs at the model's score interval and at 1 s, where most flood and
// scan flows alert while still active (their interim score), so that a flow
// evaluate scored only by its final record would show.
func TestScoresAsDetect(t *testing.T) {
	model := trainLab(t)
	// Each flow, by what an alert shows of it, with its label.
	ids := finalFlows(t, model, mixed)
	_, labels, _ := labelFlows(t, labelsFile, ids)
	labelOf := make(map[flowKey]string, len(ids))
	for i, id := range ids {
		labelOf[keyOfFlow(id)] = labels[i]
	}
	for _, interval := range []string{"0", "1s"} {
		t.Run("score-interval="+interval, func(t *testing.T) { scoresAsDetect(t, model, interval, labelOf) })
	}
}

func scoresAsDetect(t *testing.T, model, interval string, labelOf map[flowKey]string) {
	dir := t.TempDir()
	rep, _, _ := evalOK(t, "--model", model, "--pcap", mixed, "--labels", labelsFile, "--out", filepath.Join(dir, "report"), "-q", "--score-interval", interval)

	alerts := detectAlerts(t, dir, "--model", model, "--pcap", mixed, "--score-interval", interval)
	// The flows detect reports: each alert's own, and the earlier
	// connections of a beacon that it names (related_flows).
	distinct := map[flowKey]bool{}
	byLabel := map[string]map[flowKey]bool{}
	alerted := map[flowKey]bool{}
	count := func(k flowKey) {
		distinct[k] = true
		l, ok := labelOf[k]
		if !ok {
			t.Errorf("alert on a flow the extractor never ended: %+v", k)
			return
		}
		if byLabel[l] == nil {
			byLabel[l] = map[flowKey]bool{}
		}
		byLabel[l][k] = true
	}
	for i := range alerts {
		a := &alerts[i]
		k := keyOfAlert(t, a)
		alerted[k] = true
		count(k)
		for _, r := range a.Related {
			rk := k
			rk.sport, rk.start = r.SrcPort, int64(r.Start)
			count(rk)
		}
	}
	onlyNamed := 0
	for k := range byLabel["beaconing"] {
		if !alerted[k] {
			onlyNamed++
		}
	}
	if onlyNamed == 0 {
		t.Error("no beaconing flow was reported through a later alert's related_flows; the sample's beacon should have some")
	}
	ens := rep.Models["ensemble"]
	if len(distinct) == 0 {
		t.Fatal("detect raised no alert on the mixed sample")
	}
	if got := ens.TP + ens.FP; got != int64(len(distinct)) {
		t.Errorf("evaluate: ensemble tp+fp = %d; detect alerted on %d distinct flows", got, len(distinct))
	}
	if got := len(byLabel[evaluate.Benign]); int64(got) != ens.FP {
		t.Errorf("detect alerted on %d benign flows; evaluate's ensemble fp = %d", got, ens.FP)
	}
	for l, ls := range ens.PerLabel {
		if got := len(byLabel[l]); got != ls.Detected {
			t.Errorf("%s: detect alerted on %d flows; evaluate counts %d detected", l, got, ls.Detected)
		}
	}
	for l := range byLabel {
		if l != evaluate.Benign && ens.PerLabel[l] == nil {
			t.Errorf("detect alerted on %s flows that evaluate does not report", l)
		}
	}
}

// TestPcapLabel: --pcap FILE=LABEL labels every flow of a file.
func TestPcapLabel(t *testing.T) {
	model := trainLab(t)
	out := filepath.Join(t.TempDir(), "report")
	rep, raw, stderr := evalOK(t, "--model", model, "--pcap", mixed+"=attack", "--pcap", baseline+"=benign", "--out", out)
	want := map[string]int{
		"attack":        len(finalFlows(t, model, mixed)),
		evaluate.Benign: len(finalFlows(t, model, baseline)),
	}
	checkReport(t, rep, raw, want, allModels)
	if rep.Unmatched != nil {
		t.Errorf("unmatched_labels %+v without a label file", rep.Unmatched)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("unexpected warning:\n%s", stderr)
	}
	if len(rep.Inputs) != 2 {
		t.Errorf("inputs = %+v, want the two captures", rep.Inputs)
	}
	if ls := rep.Models["ensemble"].PerLabel["attack"]; ls != nil && ls.Detected > 0 && ls.FirstDetectionDelay == nil {
		t.Errorf("attack detected but no first_detection_delay_s")
	}
}

// countNSL counts an NSL-KDD file's rows by label (field 42; "normal" is
// benign), as awk -F, '{n[$42]++}' would.
func countNSL(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 42 {
			t.Fatalf("%s: row with %d fields", path, len(f))
		}
		l := f[41]
		if l == "normal" {
			l = evaluate.Benign
		}
		n[l]++
	}
	return n
}

func TestTables(t *testing.T) {
	model := train(t, "--dataset", "nsl-kdd:"+nslTrain)
	out := filepath.Join(t.TempDir(), "report")
	rep, raw, _ := evalOK(t, "--model", model, "--dataset", "nsl-kdd:"+nslTest, "--out", out)
	want := countNSL(t, nslTest)
	if want[evaluate.Benign] == 0 || len(want) < 3 {
		t.Fatalf("fixture counts %v: want benign and several attacks", want)
	}
	checkReport(t, rep, raw, want, allModels)
	for _, name := range allModels {
		m := rep.Models[name]
		for l, ls := range m.PerLabel {
			if ls.FirstDetectionDelay != nil {
				t.Errorf("%s: %s: first_detection_delay_s %v from a table", name, l, *ls.FirstDetectionDelay)
			}
			if m.NullReasons["per_label."+l+".first_detection_delay_s"] == "" {
				t.Errorf("%s: %s: null first_detection_delay_s without a reason", name, l)
			}
		}
	}
	if rep.Unmatched != nil {
		t.Errorf("unmatched_labels %+v for a table", rep.Unmatched)
	}
	for _, f := range []string{"report.md", "roc.png", "pr.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestInsider (issue 8): with per-flow label rows, a benign flow of the
// insider 10.77.0.21 inside the FTP brute-force window stays benign, and
// label rows that match no flow are reported.
func TestInsider(t *testing.T) {
	model := trainLab(t)
	dir := t.TempDir()
	rep, raw, stderr := evalOK(t, "--model", model, "--pcap", insiderPcap, "--labels", insiderCSV, "--out", filepath.Join(dir, "report"), "-q")

	ids := finalFlows(t, model, insiderPcap)
	want, labels, l := labelFlows(t, insiderCSV, ids)
	if want["bruteforce_ftp"] == 0 {
		t.Fatalf("independent labelling finds no bruteforce_ftp flow: %v", want)
	}
	checkReport(t, rep, raw, want, allModels)

	// The fixture's point: 10.77.0.21 has flows inside the FTP window that
	// no row names, and they are benign (checkReport above compared the
	// benign count with this labelling).
	span := l.Spans()["bruteforce_ftp"]
	var insiderBenign int
	for i, id := range ids {
		a, b := id.Src.Unmap().String(), id.Dst.Unmap().String()
		inside := id.Start <= span.End && id.End >= span.Start
		if (a == "10.77.0.21" || b == "10.77.0.21") && inside && labels[i] == evaluate.Benign {
			insiderBenign++
		}
	}
	if insiderBenign == 0 {
		t.Fatal("no benign flow of 10.77.0.21 inside the FTP window: the fixture does not test what it should")
	}

	// Unmatched rows: reported in report.json and warned about even with -q.
	unmatched := l.Unmatched()
	if len(unmatched) == 0 {
		t.Fatal("every label row matched; the fixture's ssh rows should not")
	}
	if rep.Unmatched == nil || rep.Unmatched.Count != len(unmatched) {
		t.Errorf("unmatched_labels = %+v, want count %d", rep.Unmatched, len(unmatched))
	}
	if w := warningLine(stderr); !strings.Contains(w, fmt.Sprintf("%d of %d label rows matched no flow", len(unmatched), len(l.Rows))) ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("with -q, stderr should be the one warning line; got:\n%s", stderr)
	}

	// The same attack as a window (10.77.0.21 ↔ 10.77.0.10 over the FTP
	// span) sweeps the insider's benign flows into the attack: the per-flow
	// rows are what keeps them benign.
	window := filepath.Join(dir, "window.csv")
	if err := os.WriteFile(window, fmt.Appendf(nil, "start,end,src,dst,label\n%d,%d,10.77.0.21,10.77.0.10,bruteforce_ftp\n", span.Start, span.End), 0o644); err != nil {
		t.Fatal(err)
	}
	repW, _, _ := evalOK(t, "--model", model, "--pcap", insiderPcap, "--labels", window, "--out", filepath.Join(dir, "window"), "-q")
	wantW, _, _ := labelFlows(t, window, ids)
	if got := repW.Counts.PerLabel["bruteforce_ftp"]; got != wantW["bruteforce_ftp"] || got <= want["bruteforce_ftp"] {
		t.Errorf("window labels: %d bruteforce_ftp flows, want %d (more than the %d per-flow rows match)", got, wantW["bruteforce_ftp"], want["bruteforce_ftp"])
	}
}

// TestRefusals: every input error exits 2 with one line on stderr naming
// the problem, and leaves no report behind.
func TestRefusals(t *testing.T) {
	capModel := trainLab(t)
	nslModel := train(t, "--dataset", "nsl-kdd:"+nslTrain)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badTime := write("badtime.csv", "start,end,src,dst,label\nyesterday,1795707431,10.77.0.66,,x\n")
	endBefore := write("endbefore.csv", "start,end,src,dst,label\n1795707431,1795707430,10.77.0.66,,x\n")
	unknownCol := write("unknown.csv", "start,end,src,dst,label,colour\n1795707430,1795707431,10.77.0.66,,x,red\n")
	missingCol := write("missing.csv", "start,end,src,label\n1795707430,1795707431,10.77.0.66,x\n")
	nsl, err := os.ReadFile(nslTest)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.SplitN(string(nsl), "\n", 4)
	tampered := write("tampered.txt", rows[0]+"\n"+"0,"+rows[1]+"\n"+rows[2]+"\n") // row 2: one field too many
	// A capture with a header and no packets.
	empty := write("empty.pcap", string([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}))
	existing := filepath.Join(dir, "existing")
	if err := os.MkdirAll(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	old := []byte(`{"old": true}` + "\n")
	if err := os.WriteFile(filepath.Join(existing, "report.json"), old, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string // --out is added unless given
		want string
	}{
		{"label bad time", []string{"--model", capModel, "--pcap", mixed, "--labels", badTime}, `badtime.csv:2: bad start time "yesterday"`},
		{"label end before start", []string{"--model", capModel, "--pcap", mixed, "--labels", endBefore}, "endbefore.csv:2: end"},
		{"label unknown column", []string{"--model", capModel, "--pcap", mixed, "--labels", unknownCol}, `unknown column(s) "colour"`},
		{"label missing column", []string{"--model", capModel, "--pcap", mixed, "--labels", missingCol}, "missing required column(s) dst"},
		{"label file missing", []string{"--model", capModel, "--pcap", mixed, "--labels", filepath.Join(dir, "nope.csv")}, "nope.csv"},
		{"plain pcap without labels", []string{"--model", capModel, "--pcap", mixed}, "has no labels"},
		{"labels with only FILE=LABEL", []string{"--model", capModel, "--pcap", mixed + "=attack", "--labels", labelsFile}, "every --pcap is FILE=LABEL"},
		{"missing capture", []string{"--model", capModel, "--pcap", filepath.Join(dir, "nope.pcap") + "=x"}, "nope.pcap"},
		{"empty capture", []string{"--model", capModel, "--pcap", empty + "=x"}, "no flows"},
		{"dataset of another format", []string{"--model", nslModel, "--dataset", "unsw-nb15:" + unswTest}, "trained on a nsl-kdd table, not unsw-nb15"},
		{"dataset with a wrong column count", []string{"--model", nslModel, "--dataset", "nsl-kdd:" + tampered}, "tampered.txt:2: 44 fields"},
		{"unknown dataset format", []string{"--model", nslModel, "--dataset", "kdd99:" + nslTest}, "kdd99"},
		{"missing dataset", []string{"--model", nslModel, "--dataset", "nsl-kdd:" + filepath.Join(dir, "nope.txt")}, "--dataset: open"},
		{"capture model on a table", []string{"--model", capModel, "--dataset", "nsl-kdd:" + nslTest}, "trained on captures"},
		{"table model on captures", []string{"--model", nslModel, "--pcap", mixed, "--labels", labelsFile}, "--dataset nsl-kdd:PATH"},
		{"pcap and dataset", []string{"--model", nslModel, "--pcap", mixed, "--labels", labelsFile, "--dataset", "nsl-kdd:" + nslTest}, "exclusive"},
		{"labels with dataset", []string{"--model", nslModel, "--labels", labelsFile, "--dataset", "nsl-kdd:" + nslTest}, "--labels goes with --pcap"},
		{"no input", []string{"--model", capModel}, "no input"},
		{"no model", []string{"--pcap", mixed, "--labels", labelsFile}, "no --model"},
		{"missing model", []string{"--model", filepath.Join(dir, "nope.vgl"), "--pcap", mixed, "--labels", labelsFile}, "nope.vgl"},
		{"model not a bundle", []string{"--model", labelsFile, "--pcap", mixed, "--labels", labelsFile}, "--model"},
		{"no out", []string{"--model", capModel, "--pcap", mixed, "--labels", labelsFile, "--out", ""}, "no --out"},
		{"existing report", []string{"--model", capModel, "--pcap", mixed, "--labels", labelsFile, "--out", existing}, "pass --force"},
		{"negative slack", []string{"--model", capModel, "--pcap", mixed, "--labels", labelsFile, "--label-slack", "-1s"}, "--label-slack"},
		{"negative score interval", []string{"--model", capModel, "--pcap", mixed, "--labels", labelsFile, "--score-interval", "-1s"}, "--score-interval"},
		{"unknown flag", []string{"--model", capModel, "--threshold", "3"}, "unknown flag"},
		{"stray argument", []string{"--model", capModel, "--pcap", mixed, "--labels", labelsFile, "extra"}, "extra"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d", i))
			args := tc.args
			if !contains(args, "--out") {
				args = append(args[:len(args):len(args)], "--out", out)
			}
			r := runEval(t, args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, cli.ExitUsage, r.stderr)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "evaluate: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q: want one line naming %q", r.stderr, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("refused run created %s", out)
			}
		})
	}
	if got, _ := os.ReadFile(filepath.Join(existing, "report.json")); !bytes.Equal(got, old) {
		t.Errorf("refused run changed the existing report: %q", got)
	}

	// With --force the existing report is replaced.
	rep, _, _ := evalOK(t, "--model", nslModel, "--dataset", "nsl-kdd:"+nslTest, "--out", existing, "--force", "-q")
	if rep.Counts.Flows == 0 {
		t.Error("--force: empty report")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// checkSamples reads samples.csv and checks it against the report (a line
// per flow; per label, the ensemble's alerts are its detections; benign
// alerts are its false positives) and against an independent extraction
// (the same 5-tuples and start times).
func checkSamples(t *testing.T, path string, rep *evaluate.Report, ids []features.FlowID) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatalf("samples.csv: %v", err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, c := range []string{"label", "start_ns", "src", "sport", "dst", "dport", "proto", "ensemble_score", "ensemble_alert"} {
		if _, ok := col[c]; !ok {
			t.Fatalf("samples.csv has no column %q: %v", c, rows[0])
		}
	}
	rows = rows[1:]
	if len(rows) != rep.Counts.Flows {
		t.Errorf("samples.csv: %d lines, report counts %d flows", len(rows), rep.Counts.Flows)
	}
	ens := rep.Models["ensemble"]
	alerts := map[string]int{}
	seen := map[string]bool{}
	for _, r := range rows {
		score, err := strconv.ParseFloat(r[col["ensemble_score"]], 64)
		if err != nil {
			t.Fatalf("samples.csv: %v", err)
		}
		if alert := r[col["ensemble_alert"]] == "1"; alert != (score >= ens.Threshold) {
			t.Errorf("samples.csv: score %v, alert %v, threshold %v", score, alert, ens.Threshold)
		} else if alert {
			alerts[r[col["label"]]]++
		}
		seen[r[col["start_ns"]]+" "+r[col["src"]]+":"+r[col["sport"]]+" "+r[col["dst"]]+":"+r[col["dport"]]] = true
	}
	for l, ls := range ens.PerLabel {
		if alerts[l] != ls.Detected {
			t.Errorf("samples.csv: %d %s alerts, report detected %d", alerts[l], l, ls.Detected)
		}
	}
	if int64(alerts[evaluate.Benign]) != ens.FP {
		t.Errorf("samples.csv: %d benign alerts, report fp %d", alerts[evaluate.Benign], ens.FP)
	}
	for _, id := range ids {
		k := fmt.Sprintf("%d %s:%d %s:%d", id.Start, id.Src, id.Sport, id.Dst, id.Dport)
		if !seen[k] {
			t.Errorf("samples.csv has no line for flow %s", k)
			break
		}
	}
}

// detectAlerts runs the real detect command with args (it adds --alerts
// into dir and -q) and returns its alerts.
func detectAlerts(t *testing.T, dir string, args ...string) []detect.Alert {
	t.Helper()
	path := filepath.Join(dir, "alerts.json")
	var stdout, stderr bytes.Buffer
	de := &detectcmd.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Dir: repo}
	if code := cli.Run(detectcmd.New(de), append(args, "--alerts", path, "-q", "--alert-mode", "flow"), &stderr); code != 0 {
		t.Fatalf("detect: exit %d: %s", code, stderr.String())
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []detect.Alert
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a detect.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert %q: %v", sc.Text(), err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
