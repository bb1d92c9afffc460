// Command evaluate measures a model against labeled data: captures with a
// label windows file (or --pcap FILE=LABEL), or a labeled feature table, and
// writes report.json, report.md, roc.png and pr.png.
//
//	evaluate --model m.vgl --pcap mixed.pcap --labels labels.csv --out report/
//	evaluate --model nsl.vgl --dataset nsl-kdd:KDDTest+.txt --out report/
package main

import (
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/evalcmd"
)

func main() { cli.Main(evalcmd.New(nil)) }
