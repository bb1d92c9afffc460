package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func newCmd() *cobra.Command {
	c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	c.Flags().String("config", "", "")
	c.Flags().Float64("target-fpr", 0.001, "")
	c.Flags().Int("seed", 1, "")
	c.Flags().StringSlice("pcap", nil, "")
	return c
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("target-fpr: 0.01\nseed: 7\npcap: [a.pcap, b.pcap]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		fpr     float64
		seed    int
		pcaps   string
		wantErr string
	}{
		{name: "default", args: nil, fpr: 0.001, seed: 1},
		{name: "file", args: []string{"--config", cfg}, fpr: 0.01, seed: 7, pcaps: "a.pcap,b.pcap"},
		{name: "env over file", args: []string{"--config", cfg}, env: map[string]string{"VIGIL_SEED": "9", "VIGIL_PCAP": "e.pcap"}, fpr: 0.01, seed: 9, pcaps: "e.pcap"},
		{name: "flag over env", args: []string{"--config", cfg, "--seed", "3"}, env: map[string]string{"VIGIL_SEED": "9"}, fpr: 0.01, seed: 3, pcaps: "a.pcap,b.pcap"},
		{name: "env only", env: map[string]string{"VIGIL_TARGET_FPR": "0.05"}, fpr: 0.05, seed: 1},
		{name: "bad env", env: map[string]string{"VIGIL_SEED": "many"}, wantErr: "VIGIL_SEED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCmd()
			if err := c.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			v, err := Config(c, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || Code(err) != ExitUsage {
					t.Fatalf("err = %v, want one mentioning %q with exit 2", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := v.GetFloat64("target-fpr"); got != tc.fpr {
				t.Errorf("viper target-fpr = %v, want %v", got, tc.fpr)
			}
			if got, _ := c.Flags().GetFloat64("target-fpr"); got != tc.fpr {
				t.Errorf("flag target-fpr = %v, want %v", got, tc.fpr)
			}
			if got, _ := c.Flags().GetInt("seed"); got != tc.seed {
				t.Errorf("seed = %v, want %v", got, tc.seed)
			}
			if got, _ := c.Flags().GetStringSlice("pcap"); strings.Join(got, ",") != tc.pcaps {
				t.Errorf("pcap = %q, want %q", got, tc.pcaps)
			}
		})
	}
}

func TestConfigUnknownKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("seed: 2\ntarget_fpr: 0.1\n"), 0o644)
	c := newCmd()
	c.ParseFlags([]string{"--config", cfg})
	_, err := Config(c, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "unknown key(s) target_fpr") || Code(err) != ExitUsage {
		t.Fatalf("err = %v", err)
	}
	c = newCmd()
	c.ParseFlags([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")})
	if _, err := Config(c, nil); Code(err) != ExitUsage {
		t.Fatalf("missing config file: err = %v, want exit 2", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	mk := func(err error) *cobra.Command {
		c := &cobra.Command{Use: "tool", RunE: func(*cobra.Command, []string) error { return err }}
		c.Flags().Int("n", 0, "")
		return c
	}
	var buf bytes.Buffer
	if code := Run(mk(nil), nil, &buf); code != 0 || buf.Len() != 0 {
		t.Fatalf("ok: code %d, stderr %q", code, buf.String())
	}
	buf.Reset()
	if code := Run(mk(nil), []string{"--bogus"}, &buf); code != ExitUsage || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("bad flag: code %d, stderr %q", code, buf.String())
	}
	buf.Reset()
	if code := Run(mk(errors.New("disk on fire")), nil, &buf); code != ExitRuntime || buf.String() != "tool: disk on fire\n" {
		t.Fatalf("runtime: code %d, stderr %q", code, buf.String())
	}
	buf.Reset()
	if code := Run(mk(Usagef("no input\nsecond line")), nil, &buf); code != ExitUsage || buf.String() != "tool: no input; second line\n" {
		t.Fatalf("usage: code %d, stderr %q", code, buf.String())
	}
}

func TestCheckFeatures(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want string // "" = accepted
	}{{"flow", ""}, {"packet", ""}, {"", ""}, {"bytes", "want flow or packet"}, {"Packet", "want flow or packet"}} {
		c := &cobra.Command{Use: "train"}
		c.Flags().String("features", "flow", "")
		c.ParseFlags([]string{"--features", tc.val})
		err := CheckFeatures(c)
		if tc.want == "" {
			if err != nil {
				t.Errorf("--features %s: %v", tc.val, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || Code(err) != ExitUsage {
			t.Errorf("--features %s: err %v, want exit 2 mentioning %q", tc.val, err, tc.want)
		}
	}
	if err := CheckFeatures(&cobra.Command{Use: "x"}); err != nil {
		t.Errorf("a command without --features: %v", err)
	}
}

func TestMatchFeatures(t *testing.T) {
	for _, tc := range []struct {
		flag, model string
		ok          bool
	}{
		{"", "flow", true}, {"", "packet", true}, // the default follows the model
		{"flow", "flow", true}, {"packet", "packet", true},
		{"packet", "flow", false}, {"flow", "packet", false},
	} {
		err := MatchFeatures(tc.flag, "m.vgl", tc.model)
		if tc.ok {
			if err != nil {
				t.Errorf("--features %q, model %s: %v", tc.flag, tc.model, err)
			}
			continue
		}
		if err == nil || Code(err) != ExitUsage || strings.Contains(err.Error(), "\n") ||
			!strings.Contains(err.Error(), "trained on "+tc.model+" features") {
			t.Errorf("--features %q, model %s: err %v, want a one-line usage error naming the model's set", tc.flag, tc.model, err)
		}
	}
}
