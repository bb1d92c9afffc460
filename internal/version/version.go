// Package version reports the build's version. Set it at link time with
// -ldflags "-X github.com/vigil-nids/vigil/internal/version.Version=v1.2.3";
// otherwise it comes from the module's build information.
package version

import "runtime/debug"

// Version is the vigil version; empty means "read the build info".
var Version string

// String returns the version of this build: the linker-set Version, the
// module version, or "devel" plus the VCS revision when known.
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			rev = "+" + s.Value[:12]
		}
	}
	return "devel" + rev
}
