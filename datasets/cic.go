package datasets

import (
	"errors"
	"strings"
)

// CICFlowMeter MachineLearningCSV files (CIC-IDS2017 and relatives) have a
// header row of feature names, many with a leading space, "Fwd Header
// Length" twice (the second becomes "Fwd Header Length.1") and a final
// Label column: BENIGN or an attack name. Values include "Infinity" and
// "NaN" (rates of zero-length flows), which become 0 (see TableReader.Next).
// Identity columns of the TrafficLabelling variant (Flow ID, addresses,
// Timestamp) are dropped; every other column must be numeric.

// cicCount lists CIC columns that are non-negative counts or sizes. Rates,
// durations, IATs, header lengths and window sizes are left out: CICFlowMeter
// writes negative values there in some rows.
var cicCount = map[string]bool{
	"Total Fwd Packets": true, "Total Backward Packets": true,
	"Total Length of Fwd Packets": true, "Total Length of Bwd Packets": true,
	"Fwd Packet Length Max": true, "Fwd Packet Length Min": true, "Fwd Packet Length Mean": true, "Fwd Packet Length Std": true,
	"Bwd Packet Length Max": true, "Bwd Packet Length Min": true, "Bwd Packet Length Mean": true, "Bwd Packet Length Std": true,
	"Min Packet Length": true, "Max Packet Length": true, "Packet Length Mean": true, "Packet Length Std": true,
	"Packet Length Variance": true, "Average Packet Size": true, "Avg Fwd Segment Size": true, "Avg Bwd Segment Size": true,
	"FIN Flag Count": true, "SYN Flag Count": true, "RST Flag Count": true, "PSH Flag Count": true,
	"ACK Flag Count": true, "URG Flag Count": true, "CWE Flag Count": true, "ECE Flag Count": true,
	"Fwd PSH Flags": true, "Bwd PSH Flags": true, "Fwd URG Flags": true, "Bwd URG Flags": true,
	"Subflow Fwd Packets": true, "Subflow Fwd Bytes": true, "Subflow Bwd Packets": true, "Subflow Bwd Bytes": true,
	"act_data_pkt_fwd": true,
}

func init() {
	register(&format{
		name:   "cic-ids",
		drop:   []string{"Flow ID", "Source IP", "Src IP", "Destination IP", "Dst IP", "Timestamp"},
		labels: []string{"Label"},
		count:  func(c string) bool { return cicCount[c] },
		label:  cicLabel,
	})
}

// cicLabel maps BENIGN (any case) to Benign and keeps attack names.
func cicLabel(v []string) (string, error) {
	switch {
	case v[0] == "":
		return "", errors.New("empty Label")
	case strings.EqualFold(v[0], "benign"):
		return Benign, nil
	}
	return v[0], nil
}
