package evaluate

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
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
	b.WriteString("label,start_ns,end_ns,proto,src,sport,dst,dport")
	for _, m := range in.Models {
		b.WriteString("," + m + "_score")
	}
	for _, m := range in.Models {
		b.WriteString("," + m + "_alert")
	}
	b.WriteByte('\n')
	var num []byte
	for i := range in.Samples {
		s := &in.Samples[i]
		if len(s.Scores) != len(in.Models) {
			return fmt.Errorf("%w: sample %d has %d scores for %d models", ErrInput, i, len(s.Scores), len(in.Models))
		}
		writeCSVField(&b, s.Label)
		num = strconv.AppendInt(append(num[:0], ','), s.Start, 10)
		num = strconv.AppendInt(append(num, ','), s.End, 10)
		b.Write(num)
		if f := s.Flow; f != nil {
			b.WriteByte(',')
			writeCSVField(&b, f.Proto)
			num = append(append(num[:0], ','), f.Src.String()...)
			num = strconv.AppendUint(append(num, ','), uint64(f.Sport), 10)
			num = append(append(num, ','), f.Dst.String()...)
			num = strconv.AppendUint(append(num, ','), uint64(f.Dport), 10)
			b.Write(num)
		} else {
			b.WriteString(",,,,,")
		}
		for _, v := range s.Scores {
			b.Write(strconv.AppendFloat(append(num[:0], ','), v, 'g', -1, 64))
		}
		for j, v := range s.Scores {
			if v >= in.Thresholds[j] {
				b.WriteString(",1")
			} else {
				b.WriteString(",0")
			}
		}
		b.WriteByte('\n')
	}
	return writeAtomic(filepath.Join(dir, SamplesFile), b.Bytes())
}

// writeCSVField writes s quoted when it holds a comma, quote or line break
// (RFC 4180).
func writeCSVField(b *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, ",\"\r\n") {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b.WriteByte('"')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
