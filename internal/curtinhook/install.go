package curtinhook

import (
	_ "embed"
	"fmt"
	"io/fs"
	"strings"
)

// File is one file to place in /curtin.
type File struct {
	Name string      // plain name in /curtin
	Mode fs.FileMode // permission bits
}

// Modes of what goes into /curtin. curtin runs the hook as root, so it
// needs no bits for others.
const (
	DirMode        fs.FileMode = 0o755
	HookMode       fs.FileMode = 0o750
	ExecutableMode fs.FileMode = 0o750
	DataMode       fs.FileMode = 0o644
)

// ModeFor returns the mode a file gets in /curtin: the hook and files
// executable on the host get ExecutableMode, the rest DataMode.
func ModeFor(name string, hostMode fs.FileMode) fs.FileMode {
	if name == HookName || hostMode&0o111 != 0 {
		return ExecutableMode
	}
	return DataMode
}

// InstallScript returns a sh script, to run as root, that copies each of
// files from the directory stage into root+/curtin (root is "" in a guest),
// owned by root and with its mode, making /curtin when needed. Running it
// again leaves the same result.
func InstallScript(root, stage string, files []File) string {
	var b strings.Builder
	dir := root + Dir
	fmt.Fprintf(&b, "set -e\ninstall -d -m %04o -o 0 -g 0 %s\n", DirMode, ShellQuote(dir))
	for _, f := range files {
		fmt.Fprintf(&b, "install -m %04o -o 0 -g 0 %s %s\n", f.Mode.Perm(),
			ShellQuote(stage+"/"+f.Name), ShellQuote(dir+"/"+f.Name))
	}
	return b.String()
}

// InstallKernelScript returns a sh script, to run as root in the guest,
// that installs package pkg with the image's package manager unless it is
// installed already (so it needs no package mirror then).
func InstallKernelScript(pkg string) string {
	return "pkg=" + ShellQuote(pkg) + "\n" + installKernelBody
}

//go:embed install-kernel.sh
var installKernelBody string

// ShellQuote quotes s as one sh word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
