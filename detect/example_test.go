package detect_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/detect"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/models/bundle"
)

// Example wires what cmd/detect does for `detect --model model.vgl --pcap
// capture.pcap`: load the model, check its schema, open the capture and
// run until the end or SIGINT/SIGTERM, with alerts on stdout and the
// summary on stderr. It needs files, so it has no Output.
func Example() {
	b, err := bundle.Load("model.vgl")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if err := b.CheckSchema(features.FlowSchema()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ecfg, err := detect.ExtractorConfig(b)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	src, err := capture.Open([]string{"capture.pcap"}, capture.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer src.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := detect.New(detect.FromBundle(b), detect.Config{Extractor: ecfg, Block: true, Clock: detect.WallClock{}})
	sum, err := p.Run(ctx, src, detect.NewJSONLines(os.Stdout))
	sum.WriteText(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
