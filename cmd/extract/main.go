// Command extract turns captures into a table of flow feature vectors:
// one row per flow record, identity columns then every feature of the
// flow schema (see docs/features.md). CSV by default, Parquet when the
// output file ends in .parquet.
//
//	extract --pcap PATH... --out FILE [--force] [--idle-timeout 60s] [--active-timeout 300s] [--max-flows N]
//	extract --features packet --pcap PATH... --out FILE.csv [--force] [--max-flows N]
//
// With --features packet, one row per IP packet: ts, src, sport, dst,
// dport, proto, then the 115 features of features/afterimage (Kitsune's
// damped statistics); --max-flows bounds each of its tables.
//
// Exit status: 0 success, 1 runtime failure, 2 usage or input error.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vigil-nids/vigil/capture"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/cli"
)

// usageError marks errors that exit with status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	pcaps         []string
	out           string
	force         bool
	idle, active  time.Duration
	maxFlows      int
	noCommunityID bool
	cpuprofile    string
	features      string
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	cmd := &cobra.Command{
		Use:           "extract --pcap PATH... --out FILE",
		Short:         "Extract flow feature vectors from captures",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return extract(o, stdout, stderr)
		},
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.Flags()
	f.StringSliceVar(&o.pcaps, "pcap", nil, "capture file or directory (repeatable, comma-separated)")
	f.StringVar(&o.out, "out", "", "output file (.parquet for Parquet, else CSV); - for stdout")
	f.BoolVar(&o.force, "force", false, "overwrite an existing output file")
	f.DurationVar(&o.idle, "idle-timeout", 60*time.Second, "emit a flow after this much capture time without packets")
	f.DurationVar(&o.active, "active-timeout", 300*time.Second, "split flows longer than this (at most 1h)")
	f.IntVar(&o.maxFlows, "max-flows", 1_000_000, "flow table bound; the oldest idle flow is expired early when full")
	f.BoolVar(&o.noCommunityID, "no-community-id", false, "leave the community_id column empty (faster)")
	f.StringVar(&o.features, "features", "flow", "feature set: flow (one row per flow) or packet (Kitsune's per-packet damped statistics, one row per IP packet; CSV only)")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile to this file")
	_ = f.MarkHidden("cpuprofile")
	cli.Polish(cmd) // --version, completion bash|zsh
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "extract:", err)
	var u usageError
	if errors.As(err, &u) || cli.Code(err) == cli.ExitUsage {
		return 2
	}
	return 1
}

func extract(o options, stdout, stderr io.Writer) error {
	switch {
	case len(o.pcaps) == 0:
		return usageError{errors.New("--pcap is required")}
	case o.out == "":
		return usageError{errors.New("--out is required")}
	case o.idle < 0 || o.active < 0 || o.maxFlows < 0:
		return usageError{errors.New("timeouts and --max-flows must not be negative")}
	case o.features != "flow" && o.features != "packet":
		return usageError{fmt.Errorf("--features %q: want flow or packet", o.features)}
	case o.features == "packet" && strings.HasSuffix(strings.ToLower(o.out), ".parquet"):
		return usageError{errors.New("--features packet writes CSV only")}
	}
	if o.out != "-" && !o.force && !cli.IsStream(o.out) {
		if _, err := os.Stat(o.out); err == nil {
			return usageError{fmt.Errorf("%s exists (use --force to overwrite)", o.out)}
		}
	}
	if o.cpuprofile != "" {
		pf, err := os.Create(o.cpuprofile)
		if err != nil {
			return usageError{err}
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var warns int
	src, err := capture.Open(o.pcaps, capture.Options{Warn: func(msg string) {
		warns++
		fmt.Fprintln(stderr, "extract: warning:", msg)
	}})
	if err != nil {
		return usageError{err}
	}
	defer src.Close()
	// A progress bar on a terminal only (stderr); nothing when piped.
	prog := cli.StartProgress(stderr, "extract", src.Stats().TotalBytes, func() int64 { return src.Stats().BytesRead })
	defer prog.Stop()

	out, commit, abort, err := openOutput(o.out, stdout)
	if err != nil {
		return err
	}
	defer abort()
	if o.features == "packet" {
		return extractPackets(src, o, out, commit, stderr, &warns)
	}
	schema := features.FlowSchema()
	var w features.RecordWriter
	if strings.HasSuffix(strings.ToLower(o.out), ".parquet") {
		w = features.NewParquetWriter(out, schema)
	} else {
		w = features.NewCSVWriter(out, schema)
	}
	// Rows are formatted in a second goroutine, overlapping extraction.
	aw := features.NewAsyncWriter(w, schema.Len())
	aw.CommunityIDs = !o.noCommunityID // computed on the writer goroutine
	w = aw
	var werr error
	ex := features.NewExtractor(features.Config{
		IdleTimeout:   o.idle,
		ActiveTimeout: o.active,
		MaxFlows:      o.maxFlows,
	}, func(r *features.Record) {
		if werr == nil {
			werr = w.Write(r)
		}
	})
	start := time.Now()
	for werr == nil {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read capture: %w", err)
		}
		ex.Process(data, ci)
	}
	ex.Flush()
	if werr != nil {
		return fmt.Errorf("write %s: %w", o.out, werr)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := commit(); err != nil {
		return err
	}
	prog.Stop()
	s := ex.Stats()
	el := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "extract: %d packets, %d bytes, %d flows, %d malformed, %d fragments, %d evicted, %d warnings; arp %d ipv4 %d ipv6 %d non-ip %d tcp %d udp %d icmp %d icmpv6 %d other-ip %d; %.2fs (%.0f pkts/s)\n",
		s.Packets, s.Bytes, s.FlowsEmitted, s.Malformed, s.Fragments, s.Evicted, warns,
		s.ARP.Packets, s.IPv4.Packets, s.IPv6.Packets, s.NonIP.Packets, s.TCP.Packets, s.UDP.Packets, s.ICMP.Packets, s.ICMPv6.Packets, s.OtherIP.Packets,
		el, float64(s.Packets)/el)
	if s.Malformed > 0 {
		fmt.Fprintf(stderr, "extract: malformed by kind: %v\n", s.MalformedByKind())
	}
	return nil
}

// openOutput opens the destination. A regular file is written to a
// temporary file in the same directory and renamed over path by commit;
// stdout ("-") and existing non-regular files (/dev/null, a FIFO) are
// written directly. abort removes the temporary file unless committed.
func openOutput(path string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	nop := func() {}
	if path == "-" {
		return stdout, func() error { return nil }, nop, nil
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, nil, nil, usageError{fmt.Errorf("open output: %w", err)}
		}
		return f, f.Close, func() { f.Close() }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, nil, nil, usageError{fmt.Errorf("create output: %w", err)}
	}
	done := false
	commit = func() error {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(f.Name(), path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		done = true
		return nil
	}
	abort = func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}
	return f, commit, abort, nil
}
