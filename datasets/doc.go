// Package datasets loads labeled data for evaluation and for training on
// feature tables: the "prove it" stage's inputs.
//
// It owns two things.
//
// Label windows (LoadLabels, Labels.Match): a CSV of labeled time spans and
// endpoints that the evaluator joins to the flows vigil extracts from
// captures. Rows are indexed when loaded (per-flow rows by their canonical
// 5-tuple, windows between two addresses by the address pair, the rest in
// one start-sorted list), so Match costs a map lookup and a binary search
// rather than a scan of every row; it allocates nothing. Match counts hits
// per row so that rows matching no flow can be reported (Unmatched,
// UnmatchedReport) instead of silently dropped. ParsePcapArg splits the
// --pcap FILE=LABEL form that labels every flow of one capture.
//
// Labeled feature tables (FitEncoder, Encoder.Open, TableReader.Next):
// NSL-KDD text files, the UNSW-NB15 training/testing CSVs and CICFlowMeter
// MachineLearningCSV files (CIC-IDS2017), selected as FORMAT:PATH
// (ParseDatasetArg). An Encoder fixed on a training file holds the column
// list and the category set of every categorical column; it one-hot
// encodes them (unknown categories go to an "other" column) and defines the
// table's features.Schema, so a model trained on one table refuses another.
// Readers stream one line at a time through a bufio.Reader; Next appends a
// row to the caller's dst slice (reuse it to avoid allocations per row) and
// normalises labels: every normal row is labeled Benign, attacks keep their
// dataset's name.
//
// Errors name the file and line ("labels.csv:7: bad start time \"x\": …").
// Nothing here reads flags, the environment or the clock.
package datasets
