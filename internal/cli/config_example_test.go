package cli_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/internal/detectcmd"
	"github.com/vigil-nids/vigil/internal/evalcmd"
	"github.com/vigil-nids/vigil/internal/traincmd"
)

// The commands whose flags docs/config.md documents, with their example
// YAML files in docs/examples/.
var documented = []struct {
	name string
	new  func() *cobra.Command
}{
	{"train", func() *cobra.Command { return traincmd.New(nil) }},
	{"detect", func() *cobra.Command { return detectcmd.New(nil) }},
	{"evaluate", func() *cobra.Command { return evalcmd.New(nil) }},
}

// readYAML reads the flat YAML subset the examples use: "key: value" lines,
// # comments, quoted scalars and [a, b] flow lists (returned as "a,b").
// It is deliberately not viper: the test checks what viper and cli.Config
// make of the file against this independent reading.
func readYAML(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s:%d: not key: value: %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			parts := strings.Split(v[1:len(v)-1], ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			v = strings.Join(parts, ",")
		}
		v = strings.Trim(v, `"'`)
		if _, dup := kv[k]; dup {
			t.Fatalf("%s:%d: key %s twice", path, n, k)
		}
		kv[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestConfigExamples loads each docs/examples/<command>.yaml through the
// real command's flag set with cli.Config and checks that every key is a
// flag of that command and arrives with the value the file gives it.
func TestConfigExamples(t *testing.T) {
	for _, d := range documented {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join("..", "..", "docs", "examples", d.name+".yaml")
			want := readYAML(t, path)
			if len(want) < 5 {
				t.Fatalf("%s: only %d keys", path, len(want))
			}
			c := d.new()
			if err := c.ParseFlags([]string{"--config", path}); err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Config(c, func(string) string { return "" }); err != nil {
				t.Fatalf("cli.Config: %v", err)
			}
			nonDefault := 0
			for k, raw := range want {
				f := c.Flags().Lookup(k)
				if f == nil {
					t.Errorf("%s: key %s is not a flag of %s", path, k, d.name)
					continue
				}
				// The expected value: the raw text set on a fresh flag of the
				// same command, so it is normalised by the flag's own parser.
				fresh := d.new().Flags().Lookup(k)
				if err := fresh.Value.Set(raw); err != nil {
					t.Errorf("%s: %s: %q is not a valid value: %v", path, k, raw, err)
					continue
				}
				if got := f.Value.String(); got != fresh.Value.String() {
					t.Errorf("%s: %s = %s after cli.Config, want %s", path, k, got, fresh.Value.String())
				}
				if fresh.Value.String() != f.DefValue {
					nonDefault++
				}
			}
			// Most keys must differ from the defaults, or the test could
			// pass with the file ignored.
			if nonDefault*2 < len(want) {
				t.Errorf("%s: only %d of %d keys differ from the defaults", path, nonDefault, len(want))
			}
		})
	}
}

// TestConfigDoc keeps docs/config.md true: each command's section has one
// row per flag, with the right environment variable and default.
func TestConfigDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string][]string{} // command -> key -> cells
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.Fields(h)[0]
			continue
		}
		if !strings.HasPrefix(line, "| `") || section == "" {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if rows[section] == nil {
			rows[section] = map[string][]string{}
		}
		rows[section][strings.Trim(cells[0], "`")] = cells
	}
	for _, d := range documented {
		c := d.new()
		doc := rows[d.name]
		if doc == nil {
			t.Errorf("docs/config.md: no table under \"## %s\"", d.name)
			continue
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			cells, ok := doc[f.Name]
			if !ok {
				t.Errorf("docs/config.md: %s --%s is not documented", d.name, f.Name)
				return
			}
			delete(doc, f.Name)
			if len(cells) != 5 {
				t.Errorf("docs/config.md: %s %s: %d cells, want 5 (key | short | env | default | meaning)", d.name, f.Name, len(cells))
				return
			}
			env := "`VIGIL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) + "`"
			if f.Name == "config" {
				env = "—" // cli.Config does not read VIGIL_CONFIG
			}
			def := "`" + f.DefValue + "`"
			if f.DefValue == "" || f.DefValue == "[]" {
				def = "none"
			}
			short := "—"
			if f.Shorthand != "" {
				short = "`-" + f.Shorthand + "`"
			}
			if cells[1] != short || cells[2] != env || cells[3] != def {
				t.Errorf("docs/config.md: %s %s: short %s env %s default %s, want %s %s %s", d.name, f.Name, cells[1], cells[2], cells[3], short, env, def)
			}
		})
		for k := range doc {
			t.Errorf("docs/config.md: %s has no flag %s", d.name, k)
		}
	}
}
