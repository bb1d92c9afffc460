// Package cli is the thin edge shared by vigil's commands: configuration
// from flags, VIGIL_* environment variables and a YAML file (in that order
// of precedence, over the flag defaults), exit codes, and one-line errors.
//
// Only cmd/ imports it; packages below cmd/ take plain Config structs.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Exit codes, as DESIGN.md defines them.
const (
	ExitOK      = 0
	ExitRuntime = 1 // a runtime failure
	ExitUsage   = 2 // a usage or input error: bad flag, unreadable input, model mismatch
)

// Error carries an exit code with an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an input error (exit 2).
func Usagef(format string, args ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Usage marks err as an input error (exit 2). A nil err stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: ExitUsage, Err: err}
}

// Code returns the exit code for err: 0 for nil, the code of an *Error in
// its chain, else 1.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitRuntime
}

// Run executes cmd with args and returns the exit code, printing any error
// as one line "NAME: message" on stderr. Flag errors are usage errors.
func Run(cmd *cobra.Command, args []string, stderr io.Writer) int {
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usage(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	err := cmd.Execute()
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "accepts ") {
			err = Usage(err)
		}
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		fmt.Fprintf(stderr, "%s: %s\n", cmd.Name(), msg)
	}
	return Code(err)
}

// Main runs cmd with os.Args and exits with its code.
func Main(cmd *cobra.Command) {
	os.Exit(Run(cmd, os.Args[1:], os.Stderr))
}

// Config resolves the values of cmd's flags: a flag given on the command
// line wins, then the environment variable VIGIL_<FLAG> (upper case, '-'
// as '_'), then the key of the same name in the YAML file named by the
// --config flag, then the flag's default. A key in the file that names no
// flag is an error, so a typo cannot silently fall back to a default.
func Config(cmd *cobra.Command, getenv func(string) string) (*viper.Viper, error) {
	v := viper.New()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return nil, err
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	var envErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "help" || f.Changed {
			return
		}
		name := "VIGIL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if val := getenv(name); val != "" {
			// Setting through the flag set validates the value with the
			// flag's own parser (a bad VIGIL_SEED is an error, not a zero)
			// and keeps Changed false so the flag-vs-env order holds.
			if err := f.Value.Set(val); err != nil {
				envErr = Usagef("environment %s=%q: %v", name, val, err)
			}
			v.Set(f.Name, f.Value.String())
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v.Set(f.Name, sv.GetSlice())
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		return v, nil
	}
	fv := viper.New()
	fv.SetConfigFile(path)
	fv.SetConfigType("yaml")
	if err := fv.ReadInConfig(); err != nil {
		return nil, Usagef("config %q: %v", path, err)
	}
	var unknown []string
	for _, k := range fv.AllKeys() {
		f := cmd.Flags().Lookup(k)
		if f == nil || k == "config" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, Usagef("config %q: unknown key(s) %s (keys are the long flag names of %s --help)", path, strings.Join(unknown, ", "), cmd.CommandPath())
	}
	for _, k := range fv.AllKeys() {
		f := cmd.Flags().Lookup(k)
		if f.Changed || getenv("VIGIL_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))) != "" {
			continue
		}
		val := fv.Get(k)
		var s string
		switch x := val.(type) {
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(x)
		}
		if err := f.Value.Set(s); err != nil {
			return nil, Usagef("config %q: key %s=%q: %v", path, k, s, err)
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			v.Set(k, sv.GetSlice())
		} else {
			v.Set(k, f.Value.String())
		}
	}
	return v, nil
}

// Resolve is what train, detect and evaluate do before reading their
// flags: Config (flag > environment > file > default, into the flags
// themselves), then CheckFeatures.
func Resolve(cmd *cobra.Command, getenv func(string) string) error {
	if _, err := Config(cmd, getenv); err != nil {
		return err
	}
	return CheckFeatures(cmd)
}

// CheckFeatures checks the --features flag of train, detect and evaluate:
// flow, packet (Kitsune's AfterImage, package features/afterimage), or
// empty (detect and evaluate: the model's feature set; train: flow).
func CheckFeatures(cmd *cobra.Command) error {
	v, err := cmd.Flags().GetString("features")
	if err != nil {
		return nil // the command has no such flag
	}
	switch v {
	case "", "flow", "packet":
		return nil
	}
	return Usagef("--features %q: want flow or packet", v)
}

// MatchFeatures checks the --features value given to detect or evaluate
// (flag, "" when not given) against the feature set of the model at path
// (model, its Schema.Name): they score what the model was trained on, so
// a different request is a usage error rather than a silent switch.
func MatchFeatures(flag, path, model string) error {
	if flag == "" || flag == model {
		return nil
	}
	return Usagef("--features %s: model %q was trained on %s features; drop --features (it follows the model) or train a %s model", flag, path, model, flag)
}
