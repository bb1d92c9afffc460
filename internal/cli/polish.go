package cli

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"
	"github.com/vigil-nids/vigil/features"
	"github.com/vigil-nids/vigil/internal/version"
)

// Version returns the build's version with the flow schema's hash, as
// --version prints it: "v1.2.3 (flow schema 0123456789ab)". A model bundle
// records the hash of the schema it was trained on; detect refuses a bundle
// whose hash differs from the one printed here.
func Version() string {
	return version.String() + " (flow schema " + features.FlowSchema().Hash()[:12] + ")"
}

// fileFlags are the flags that name files, with the extensions offered
// first by shell completion (none: any file).
var fileFlags = map[string][]string{
	"pcap":       {"pcap", "pcapng", "gz", "cap"},
	"model":      {"vgl"},
	"config":     {"yaml", "yml"},
	"labels":     {"csv"},
	"out":        nil,
	"alerts":     nil,
	"summary":    {"json"},
	"write-pcap": {"pcap"},
}

// Polish gives a vigil command its common finish: --version prints
// Version(), a "completion bash|zsh" subcommand writes the shell completion
// script, and flags that name files or interfaces complete as such.
// Call it last in the command's constructor, after its flags exist.
func Polish(cmd *cobra.Command) {
	cmd.Version = Version()
	cmd.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	f := cmd.Flags()
	for name, exts := range fileFlags {
		if f.Lookup(name) != nil {
			_ = cmd.MarkFlagFilename(name, exts...)
		}
	}
	if f.Lookup("iface") != nil {
		_ = cmd.RegisterFlagCompletionFunc("iface", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			ifs, _ := net.Interfaces()
			names := make([]string, 0, len(ifs))
			for _, i := range ifs {
				names = append(names, i.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		})
	}
	cmd.AddCommand(completionCmd(cmd))
}

func completionCmd(root *cobra.Command) *cobra.Command {
	name := root.Name()
	return &cobra.Command{
		Use:   "completion bash|zsh",
		Short: "Write the shell completion script for " + name,
		Long: fmt.Sprintf(`Write the shell completion script for %[1]s to stdout.

bash (needs the bash-completion package):
  %[1]s completion bash > /etc/bash_completion.d/%[1]s       # all users
  source <(%[1]s completion bash)                            # this shell

zsh:
  %[1]s completion zsh > "${fpath[1]}/_%[1]s"                 # then start a new shell
  source <(%[1]s completion zsh)                             # this shell`, name),
		ValidArgs: []string{"bash", "zsh"},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
				return Usagef("completion needs one argument, bash or zsh (see %s completion --help)", name)
			}
			return nil
		},
		DisableFlagsInUseLine: true,
		RunE: func(c *cobra.Command, args []string) error {
			out := c.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			default:
				return root.GenZshCompletion(out)
			}
		},
	}
}
