package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/vigil-nids/vigil/features"
)

func polished() *cobra.Command {
	c := &cobra.Command{Use: "x", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return nil }}
	c.Flags().StringSlice("pcap", nil, "")
	c.Flags().String("iface", "", "")
	Polish(c)
	return c
}

func TestPolish(t *testing.T) {
	hash := features.FlowSchema().Hash()
	tests := []struct {
		args     []string
		code     int
		contains []string // in stdout
		stderr   string
	}{
		{args: []string{"--version"}, contains: []string{"x ", "(flow schema " + hash[:12] + ")"}},
		{args: []string{"completion", "bash"}, contains: []string{"# bash completion V2 for x", "complete -o default -F __start_x x"}},
		{args: []string{"completion", "zsh"}, contains: []string{"#compdef x", "compdef _x x"}},
		{args: []string{"completion", "fish"}, code: ExitUsage, stderr: "x: completion needs one argument, bash or zsh"},
		{args: []string{"completion"}, code: ExitUsage, stderr: "bash or zsh"},
		{args: []string{"nosuch"}, code: ExitUsage, stderr: `unknown command "nosuch"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			c := polished()
			var out, errb bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&errb)
			if code := Run(c, tt.args, &errb); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, errb.String())
			}
			for _, s := range tt.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%.400s", s, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.stderr)
			}
			if tt.code != 0 && strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("error is not one line: %q", errb.String())
			}
		})
	}
}

// The pcap flag completes file names, preferring capture extensions.
func TestPolishFileCompletion(t *testing.T) {
	c := polished()
	var out bytes.Buffer
	c.SetOut(&out)
	if code := Run(c, []string{"__complete", "--pcap", ""}, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	// ShellCompDirectiveFilterFileExt (8) with the extensions listed first.
	want := "pcap\npcapng\ngz\ncap\n:8\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("completion of --pcap = %q, want prefix %q", out.String(), want)
	}
}
