// Command train learns normal traffic: it extracts flow features from
// baseline captures (or reads the benign rows of a labeled table), fits the
// scaler, the isolation forest and k-means, calibrates their thresholds for
// a target false-positive rate, and writes one model bundle.
//
//	train --pcap baseline.pcap --out model.vgl
//	train --pcap /var/captures/ --config train.yaml --out model.vgl --force
//	train --dataset nsl-kdd:KDDTrain+.txt --out nsl.vgl
package main

import (
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/traincmd"
)

func main() { cli.Main(traincmd.New(nil)) }
