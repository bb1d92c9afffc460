// Package evalcmd is the evaluate command: flags, configuration, scoring
// of labeled captures or tables, and the report.
//
// Captures are scored by the detect pipeline itself (detect.Config.Observe
// sees every interim and final score), so a flow counts as detected exactly
// when detect would have alerted on it; tables are scored row by row through
// the bundle with the table's own encoder. Labels come from a label windows
// or per-flow CSV (datasets.LoadLabels) or from --pcap FILE=LABEL.
//
// Memory: one entry per flow record (its identity and, per model, the
// highest score and first alert time) and one evaluate.Sample per flow or
// row are kept until the report is computed; packets and vectors are not.
package evalcmd
