package cli

import "os"

// IsStream reports whether path names an existing file that is not a
// regular file or a directory: a device such as /dev/null or /dev/stdout,
// a named pipe or a socket (symbolic links followed). Writing to one
// overwrites nothing, so a command's "output exists, pass --force" check
// must let it through, and the output is opened as it is rather than
// created beside it and renamed into place.
func IsStream(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}
