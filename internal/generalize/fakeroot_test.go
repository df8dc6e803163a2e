package generalize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// The scripts run against fake roots, never this machine's: as nobody
// when the tests run as root, so that a path missing its $root prefix
// fails instead of touching the host, with a PATH holding only stand-ins
// for the guest's commands (which record their calls) and the few real
// tools the script needs.

// shells are the shells the script must work in: dash (/bin/sh on Debian
// and Ubuntu) and bash (/bin/sh on RHEL and SUSE).
var shells = []string{"dash", "bash"}

// hostTools are the real commands the script runs on files.
var hostTools = []string{"awk", "cat", "cut", "grep", "rm", "rmdir", "sed", "tail"}

// guestCommands are the stand-ins every run gets; a family's package
// manager is added by guest.
var guestCommands = []string{"cloud-init", "getent", "journalctl", "shutdown", "sync", "systemctl", "userdel"}

// nobody owns what the script may write when the tests run as root.
const nobody = 65534

// guest is a fake root with stand-in commands.
type guest struct {
	root  string // the image's root directory
	bin   string // the stand-ins and host tools, the script's whole PATH
	calls string // where the stand-ins record their calls
}

// newGuest lays out a fake root with the files (path: content) and a bin
// directory with the stand-ins, plus the named package manager commands.
func newGuest(t *testing.T, files map[string]string, commands ...string) *guest {
	t.Helper()
	testtool.Require(t, append(append([]string{}, shells...), hostTools...)...)
	base, err := os.MkdirTemp("", "generalize-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	g := &guest{root: filepath.Join(base, "root"), bin: filepath.Join(base, "bin"), calls: filepath.Join(base, "calls")}
	require.NoError(t, os.Mkdir(g.root, 0o755))
	require.NoError(t, os.Mkdir(g.bin, 0o755))
	require.NoError(t, os.WriteFile(g.calls, nil, 0o644))
	for p, content := range files {
		g.write(t, p, content)
	}
	for _, name := range hostTools {
		real, err := exec.LookPath(name)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(real, filepath.Join(g.bin, name)))
	}
	for _, name := range append(append([]string{}, guestCommands...), commands...) {
		require.NoError(t, os.WriteFile(filepath.Join(g.bin, name), []byte(standIn(name, g.root, g.calls)), 0o755))
	}
	return g
}

// standIn is a command that records its call; a few also answer, or act
// on the fake root, as the real one would for the build user "builder".
func standIn(name, root, calls string) string {
	record := fmt.Sprintf("printf '%%s\\n' \"%s $*\" >> %s\n", name, calls)
	switch name {
	case "userdel":
		record = fmt.Sprintf("printf '%%s\\n' \"LC_ALL=$LC_ALL userdel $*\" >> %s\n", calls)
	case "apt-get":
		record = fmt.Sprintf("printf '%%s\\n' \"${DEBIAN_FRONTEND:+DEBIAN_FRONTEND=$DEBIAN_FRONTEND }apt-get $*\" >> %s\n", calls)
	case "cloud-init":
		record += fmt.Sprintf("[ \"$*\" != 'clean --logs' ] || rm -f %[1]s/var/log/cloud-init.log %[1]s/var/log/cloud-init-output.log\n", root)
	case "getent":
		record += "[ \"$2\" = builder ] && echo 'builder:x:1000:1000:Builder:/home/builder:/bin/bash'\n"
	case "dpkg-query":
		record += "printf '%s\\n' 'linux-image-6.1.0-28-cloud-amd64 installed' 'linux-image-cloud-amd64 installed' 'linux-headers-6.1.0-27-common config-files'\n"
	}
	return "#!/bin/sh\n" + record
}

// write makes the file p holding content, or a symlink when content is
// "-> target".
func (g *guest) write(t *testing.T, p, content string) {
	t.Helper()
	full := filepath.Join(g.root, p)
	require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
	if target, ok := strings.CutPrefix(content, "-> "); ok {
		require.NoError(t, os.Symlink(target, full))
		return
	}
	require.NoError(t, os.WriteFile(full, []byte(content), 0o640))
}

// run runs script under shell in g, and returns its output and exit
// status.
func (g *guest) run(t *testing.T, shell, script string) (string, int) {
	t.Helper()
	shellPath, err := exec.LookPath(shell)
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		g.giveAway(t)
	}
	cmd := exec.Command(shellPath, "-c", script)
	cmd.Env = []string{"PATH=" + g.bin, "LC_ALL=C.UTF-8"}
	cmd.Dir = g.root
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return string(out), exitErr.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// giveAway hands the fake root and the calls file to nobody.
func (g *guest) giveAway(t *testing.T) {
	t.Helper()
	require.NoError(t, os.Chown(filepath.Dir(g.root), nobody, nobody))
	require.NoError(t, os.Chown(g.calls, nobody, nobody))
	require.NoError(t, filepath.WalkDir(g.root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	}))
}

// called is the stand-ins' calls, one a line, in order.
func (g *guest) called(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(g.calls)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// tree is every path in the fake root (directories end in /) with the
// content and mode of its files: a snapshot to compare.
func (g *guest) tree(t *testing.T) []string {
	t.Helper()
	var paths []string
	require.NoError(t, filepath.WalkDir(g.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == g.root {
			return err
		}
		rel, _ := filepath.Rel(g.root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			paths = append(paths, rel+"/")
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			paths = append(paths, rel+" -> "+target)
		default:
			data, _ := os.ReadFile(p)
			paths = append(paths, fmt.Sprintf("%s %v %q", rel, info.Mode(), data))
		}
		return nil
	}))
	sort.Strings(paths)
	return paths
}

func (g *guest) read(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(g.root, p))
	require.NoError(t, err)
	return string(data)
}

func (g *guest) mode(t *testing.T, p string) string {
	t.Helper()
	info, err := os.Lstat(filepath.Join(g.root, p))
	require.NoError(t, err)
	return info.Mode().String()
}

// exists reports whether p is in the fake root, and its size.
func (g *guest) exists(p string) (bool, int64) {
	info, err := os.Lstat(filepath.Join(g.root, p))
	if err != nil {
		return false, 0
	}
	return true, info.Size()
}
