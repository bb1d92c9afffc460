package evaluate

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strconv"
)

// SamplesFile is the per-sample table WriteSamples writes.
const SamplesFile = "samples.csv"

// WriteSamples writes dir/samples.csv: one line per sample with its label,
// span, 5-tuple (empty for table rows), each model's score and whether it
// alerted (score ≥ threshold, as report.json counts it). It is the input
// for notebooks and for looking at the flows behind a figure. The file is
// written to a temporary file and renamed into place.
func WriteSamples(dir string, in *Input) error {
	if len(in.Thresholds) != len(in.Models) {
		return fmt.Errorf("%w: %d models, %d thresholds", ErrInput, len(in.Models), len(in.Thresholds))
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	rec := []string{"label", "start_ns", "end_ns", "proto", "src", "sport", "dst", "dport"}
	for _, m := range in.Models {
		rec = append(rec, m+"_score")
	}
	for _, m := range in.Models {
		rec = append(rec, m+"_alert")
	}
	if err := w.Write(rec); err != nil {
		return err
	}
	for i := range in.Samples {
		s := &in.Samples[i]
		if len(s.Scores) != len(in.Models) {
			return fmt.Errorf("%w: sample %d has %d scores for %d models", ErrInput, i, len(s.Scores), len(in.Models))
		}
		rec = append(rec[:0], s.Label, strconv.FormatInt(s.Start, 10), strconv.FormatInt(s.End, 10))
		if f := s.Flow; f != nil {
			rec = append(rec, f.Proto, f.Src.String(), strconv.Itoa(int(f.Sport)), f.Dst.String(), strconv.Itoa(int(f.Dport)))
		} else {
			rec = append(rec, "", "", "", "", "")
		}
		for _, v := range s.Scores {
			rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
		}
		for j, v := range s.Scores {
			alert := "0"
			if v >= in.Thresholds[j] {
				alert = "1"
			}
			rec = append(rec, alert)
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, SamplesFile), b.Bytes())
}
