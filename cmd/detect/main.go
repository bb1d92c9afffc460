// Command detect scores live or captured traffic against a model bundle in
// real time and writes one EVE-style JSON alert per line.
//
//	detect --demo
//	detect --model m.vgl --pcap capture.pcap --alerts alerts.json --summary run.json
//	detect --model m.vgl --iface eth0 --bpf 'not port 22' --metrics-addr :9108
package main

import (
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/detectcmd"
)

func main() { cli.Main(detectcmd.New(nil)) }
