package tarball

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// buildBuiltVM makes a tree with what a build VM leaves behind.
func buildBuiltVM(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/machine-id":                               "0123456789abcdef0123456789abcdef\n",
		"var/lib/dbus/machine-id":                      "0123456789abcdef0123456789abcdef\n",
		"var/lib/cloud/instances/i-1/user-data.txt":    "#cloud-config\n",
		"var/lib/cloud/instances/i-1/sem/config_ssh":   "done",
		"var/lib/cloud/data/status.json":               "{}",
		"var/log/cloud-init.log":                       "log",
		"var/log/cloud-init-output.log":                "output",
		"var/log/syslog":                               "kept",
		"etc/ssh/ssh_host_ed25519_key":                 "secret",
		"etc/ssh/ssh_host_ed25519_key.pub":             "public",
		"etc/ssh/sshd_config":                          "kept",
		"etc/hostname":                                 "builder\n",
		"var/cache/apt/pkgcache.bin":                   "cache",
		"var/cache/apt/archives/partial/x.deb":         "deb",
		"home/ubuntu/.cache/pip/wheel":                 "wheel",
		"home/ubuntu/.bashrc":                          "kept",
		"root/.cache/motd.legal-displayed":             "",
		"var/lib/cloud/instances/i-1/obj.pkl":          "pickle",
		"var/lib/cloud/instances/i-1/datasource":       "NoCloud",
		"var/lib/cloud/scripts/per-boot/keep-me.sh":    "kept",
		"usr/lib/cloud-init/keep-cloud-init-code.py":   "kept",
		"var/log/installer/cloud-init-not-a-match.txt": "kept",
	}
	for p, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(content), 0o644))
	}
	require.NoError(t, os.Symlink("/var/lib/cloud/instances/i-1", filepath.Join(root, "var/lib/cloud/instance")))
	return root
}

func TestGeneralizeExcludeInclude(t *testing.T) {
	src := buildBuiltVM(t)
	hooks := filepath.Join(t.TempDir(), "curtin-hooks")
	require.NoError(t, os.WriteFile(hooks, []byte("#!/usr/bin/env python3\n"), 0o600))
	hostname := filepath.Join(t.TempDir(), "hostname")
	require.NoError(t, os.WriteFile(hostname, []byte("maas\n"), 0o644))

	var logged []string
	tgz := filepath.Join(t.TempDir(), "g.tgz")
	_, stats := packDir(t, src, tgz, Options{
		Generalize: DefaultGeneralize(),
		Exclude:    []string{"/var/cache/apt/*.bin", "/var/cache/apt/archives/**", "/home/**/.cache", "/root/.cache"},
		Include: []Include{
			{Source: hooks, Dest: "/curtin/curtin-hooks", Mode: 0o750, UID: 0, GID: 0},
			{Source: hostname, Dest: "/etc/hostname", UID: 1000, GID: 1000},
		},
		Log: func(format string, args ...any) { logged = append(logged, format) },
	})
	out := extractCurtin(t, tgz)
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(out, p))
		return err == nil
	}

	for _, gone := range []string{
		"var/lib/dbus/machine-id", "var/lib/cloud/instance", "var/lib/cloud/instances/i-1",
		"var/log/cloud-init.log", "var/log/cloud-init-output.log",
		"etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub",
		"var/cache/apt/pkgcache.bin", "var/cache/apt/archives/partial", "home/ubuntu/.cache", "root/.cache",
	} {
		require.False(t, exists(gone), "%s should have been left out", gone)
	}
	for _, kept := range []string{
		"var/lib/cloud/instances", "var/lib/cloud/data/status.json", "var/log/syslog", "etc/ssh/sshd_config",
		"var/cache/apt/archives", "home/ubuntu/.bashrc", "var/lib/cloud/scripts/per-boot/keep-me.sh",
		"usr/lib/cloud-init/keep-cloud-init-code.py", "var/log/installer/cloud-init-not-a-match.txt",
	} {
		require.True(t, exists(kept), "%s should have been kept", kept)
	}

	fi, err := os.Lstat(filepath.Join(out, "etc/machine-id"))
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular())
	require.Zero(t, fi.Size(), "machine-id must be kept, empty")

	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(out, "curtin/curtin-hooks"), &st))
	require.Equal(t, uint32(unix.S_IFREG|0o750), testtree.StatMode(&st))
	require.NoError(t, unix.Lstat(filepath.Join(out, "curtin"), &st))
	require.Equal(t, uint32(unix.S_IFDIR|0o755), testtree.StatMode(&st))
	content, err := os.ReadFile(filepath.Join(out, "etc/hostname"))
	require.NoError(t, err)
	require.Equal(t, "maas\n", string(content))
	require.NoError(t, unix.Lstat(filepath.Join(out, "etc/hostname"), &st))
	require.Equal(t, [3]uint32{unix.S_IFREG | 0o644, 1000, 1000}, [3]uint32{testtree.StatMode(&st), st.Uid, st.Gid})

	require.Equal(t, int64(4), stats.Excluded)
	require.Equal(t, int64(8), stats.Generalized, "2 machine IDs, instance, instances/i-1, 2 logs, 2 host keys")
	require.Equal(t, int64(2), stats.Included)
	require.NotEmpty(t, logged)
}

func TestGeneralizeOffKeepsEverything(t *testing.T) {
	src := buildBuiltVM(t)
	tgz := filepath.Join(t.TempDir(), "g.tgz")
	_, stats := packDir(t, src, tgz, Options{})
	require.Zero(t, stats.Generalized)
	testtree.AssertSame(t, testtree.SnapshotWithBlocks(t, src), testtree.SnapshotWithBlocks(t, extractCurtin(t, tgz)))
}

func TestIncludeErrors(t *testing.T) {
	src := buildBuiltVM(t)
	require.NoError(t, os.Symlink("usr/lib", filepath.Join(src, "lib")))
	host := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(host, nil, 0o644))
	fsys, err := dirfs.Open(src)
	require.NoError(t, err)

	for _, tc := range []struct {
		include Include
		want    string
	}{
		{Include{Source: host, Dest: "relative/path"}, "clean absolute"},
		{Include{Source: host, Dest: "/etc/../x"}, "clean absolute"},
		{Include{Source: host, Dest: "/"}, "clean absolute"},
		{Include{Source: host, Dest: "/x", Mode: 0o170644}, "permission bits"},
		{Include{Source: "", Dest: "/x"}, "source is empty"},
		{Include{Source: host, Dest: "/etc"}, "is a directory in the image"},
		{Include{Source: host, Dest: "/lib/modules/x"}, "a symlink cannot be followed"},
		{Include{Source: filepath.Join(t.TempDir(), "missing"), Dest: "/x"}, "missing"},
		{Include{Source: t.TempDir(), Dest: "/x"}, "not a regular file"},
	} {
		_, err := WriteTar(context.Background(), io.Discard, fsys, Options{Include: []Include{tc.include}})
		require.ErrorContains(t, err, tc.want, "include %+v", tc.include)
	}
	_, err = WriteTar(context.Background(), io.Discard, fsys, Options{Include: []Include{
		{Source: host, Dest: "/a"}, {Source: host, Dest: "/a/b"},
	}})
	require.ErrorContains(t, err, "both a file and the directory")
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		path    string
		want    bool
	}{
		{"/var/cache/apt/*.bin", "/var/cache/apt/pkgcache.bin", true},
		{"/var/cache/apt/*.bin", "/var/cache/apt/sub/x.bin", false},
		{"/var/cache/apt/*.bin", "/var/cache/apt", false},
		{"/home/**/.cache", "/home/.cache", true},
		{"/home/**/.cache", "/home/u/.cache", true},
		{"/home/**/.cache", "/home/u/a/b/.cache", true},
		{"/home/**/.cache", "/home/u/.cache/x", false},
		{"/a/**", "/a", false},
		{"/a/**", "/a/b", true},
		{"/a/**", "/a/b/c", true},
		{"/**/*.pyc", "/usr/lib/x.pyc", true},
		{"/**/*.pyc", "/x.pyc", true},
		{"/etc/ssh/ssh_host_*", "/etc/ssh/ssh_host_rsa_key.pub", true},
		{"/etc/[ab]", "/etc/b", true},
		{"/etc/\\*", "/etc/x", false},
	} {
		g, err := compileGlob(tc.pattern)
		require.NoError(t, err)
		require.Equal(t, tc.want, g.match(tc.path), "%s ~ %s", tc.pattern, tc.path)
	}
	for _, bad := range []string{"relative/*", "/a//b", "/[", ""} {
		_, err := compileGlob(bad)
		require.Error(t, err, bad)
	}
	// Many "**" against a deep path stays fast: the matcher is linear in
	// each of pattern and path.
	g, err := compileGlob("/**/a/**/a/**/a/**/a/**/b")
	require.NoError(t, err)
	require.False(t, g.match("/"+strings.Repeat("a/", 2000)+"c"))
}

// buildTraces is a tree with the traces a build leaves beyond
// buildBuiltVM's: hostname, login records, journal, random seed, and the
// build VM's network configuration as Debian, Ubuntu, RHEL and SUSE keep
// it. Owners and modes are those the distributions give the files.
type traceFile struct {
	path      string
	mode      os.FileMode
	uid, gid  int
	sparseEnd int64 // a hole to here, like lastlog's
}

var traceFiles = []traceFile{
	{path: "etc/hostname", mode: 0o644},
	{path: "var/log/wtmp", mode: 0o664, gid: 43},
	{path: "var/log/wtmp.1", mode: 0o664, gid: 43},
	{path: "var/log/btmp", mode: 0o660, gid: 43},
	{path: "var/log/lastlog", mode: 0o664, gid: 43, sparseEnd: 292 << 10},
	{path: "var/log/auth.log", mode: 0o640, uid: 104, gid: 4},
	{path: "var/log/auth.log.1", mode: 0o640, uid: 104, gid: 4},
	{path: "var/log/secure", mode: 0o600},
	{path: "var/log/secure-20261201", mode: 0o600},
	{path: "var/lib/wtmpdb/wtmp.db", mode: 0o644},
	{path: "var/log/journal/0123456789abcdef0123456789abcdef/system.journal", mode: 0o640, gid: 101},
	{path: "var/lib/systemd/random-seed", mode: 0o600},
	{path: "etc/netplan/50-cloud-init.yaml", mode: 0o600},
	{path: "etc/netplan/90-site.yaml", mode: 0o600},
	{path: "etc/network/interfaces.d/50-cloud-init", mode: 0o644},
	{path: "etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection", mode: 0o600},
	{path: "etc/NetworkManager/system-connections/site-vlan.nmconnection", mode: 0o600},
	{path: "etc/sysconfig/network-scripts/ifcfg-eth0", mode: 0o644},
	{path: "etc/sysconfig/network-scripts/ifcfg-lo", mode: 0o644},
	{path: "etc/sysconfig/network/ifcfg-eth0", mode: 0o644},
	{path: "etc/sysconfig/network/ifcfg-lo", mode: 0o644},
	{path: "var/log/syslog", mode: 0o640},
}

func buildTraces(t *testing.T) string {
	testtool.RequireRoot(t)
	t.Helper()
	root := t.TempDir()
	for _, f := range traceFiles {
		p := filepath.Join(root, f.path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("build trace in "+f.path+"\n"), f.mode))
		require.NoError(t, os.Chmod(p, f.mode))
		require.NoError(t, os.Lchown(p, f.uid, f.gid))
		if f.sparseEnd > 0 {
			require.NoError(t, os.Truncate(p, f.sparseEnd))
		}
	}
	require.NoError(t, os.Chmod(filepath.Join(root, "var/log/journal"), os.ModeSetgid|0o755))
	return root
}

// The new rules, by the switch that turns each off: what it leaves out,
// what it stores empty, and what it must keep.
var traceRules = []struct {
	name    string
	off     func(*Generalize)
	gone    []string
	emptied []string
}{
	{"hostname", func(g *Generalize) { g.EmptyHostname = false }, nil, []string{"etc/hostname"}},
	{"login records", func(g *Generalize) { g.EmptyLoginRecords = false },
		[]string{"var/log/wtmp.1", "var/log/auth.log.1", "var/log/secure-20261201", "var/lib/wtmpdb/wtmp.db"},
		[]string{"var/log/wtmp", "var/log/btmp", "var/log/lastlog", "var/log/auth.log", "var/log/secure"}},
	{"journal", func(g *Generalize) { g.RemoveJournal = false }, []string{"var/log/journal/0123456789abcdef0123456789abcdef"}, nil},
	{"random seed", func(g *Generalize) { g.RemoveRandomSeed = false }, []string{"var/lib/systemd/random-seed"}, nil},
	{"network config", func(g *Generalize) { g.RemoveNetworkConfig = false }, []string{
		"etc/netplan/50-cloud-init.yaml", "etc/network/interfaces.d/50-cloud-init",
		"etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection",
		"etc/sysconfig/network-scripts/ifcfg-eth0", "etc/sysconfig/network/ifcfg-eth0",
	}, nil},
}

// TestGeneralizeBuildTraces checks each rule with GNU tar as curtin runs
// it: the files it empties stay with their mode and owner at zero length,
// the ones it drops are gone, everything else (ifcfg-lo, the site's own
// network files, the journal directory itself) is as it was.
func TestGeneralizeBuildTraces(t *testing.T) {
	src := buildTraces(t)
	tgz := filepath.Join(t.TempDir(), "g.tgz")
	_, stats := packDir(t, src, tgz, Options{Generalize: DefaultGeneralize()})
	out := extractCurtin(t, tgz)

	handled := map[string]bool{}
	for _, rule := range traceRules {
		for _, p := range rule.gone {
			handled[p] = true
			_, err := os.Lstat(filepath.Join(out, p))
			require.True(t, os.IsNotExist(err), "%s: /%s must be left out", rule.name, p)
		}
		for _, p := range rule.emptied {
			handled[p] = true
			var st, orig unix.Stat_t
			require.NoError(t, unix.Lstat(filepath.Join(out, p), &st), "%s: /%s must be kept", rule.name, p)
			require.NoError(t, unix.Lstat(filepath.Join(src, p), &orig))
			require.Zero(t, st.Size, "%s: /%s must be empty", rule.name, p)
			require.Zero(t, st.Blocks, "/%s must hold no data", p)
			require.Equal(t, [3]uint32{testtree.StatMode(&orig), orig.Uid, orig.Gid}, [3]uint32{testtree.StatMode(&st), st.Uid, st.Gid}, "/%s keeps its mode and owner", p)
		}
	}
	for _, f := range traceFiles {
		if handled[f.path] || strings.HasPrefix(f.path, "var/log/journal/") {
			continue
		}
		got, err := os.ReadFile(filepath.Join(out, f.path))
		require.NoError(t, err, "/%s must be kept", f.path)
		want, err := os.ReadFile(filepath.Join(src, f.path))
		require.NoError(t, err)
		require.Equal(t, want, got, "/%s must be kept as it was", f.path)
	}
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(out, "var/log/journal"), &st), "the journal directory stays, so journald keeps a persistent journal")
	require.Equal(t, uint32(unix.S_IFDIR|0o2755), testtree.StatMode(&st))
	require.Equal(t, int64(17), stats.Generalized, "6 emptied and 11 left out")
}

// TestGeneralizeTraceSwitches turns each rule off in turn: what it would
// remove is then kept as it was, and the other rules still apply.
func TestGeneralizeTraceSwitches(t *testing.T) {
	src := buildTraces(t)
	for i, rule := range traceRules {
		t.Run(rule.name, func(t *testing.T) {
			g := DefaultGeneralize()
			rule.off(&g)
			tgz := filepath.Join(t.TempDir(), "g.tgz")
			packDir(t, src, tgz, Options{Generalize: g})
			out := extractCurtin(t, tgz)
			for _, p := range append(append([]string{}, rule.gone...), rule.emptied...) {
				want := testtree.SnapshotWithBlocks(t, filepath.Join(src, p))
				testtree.AssertSame(t, want, testtree.SnapshotWithBlocks(t, filepath.Join(out, p)))
			}
			other := traceRules[(i+1)%len(traceRules)]
			for _, p := range other.gone {
				_, err := os.Lstat(filepath.Join(out, p))
				require.True(t, os.IsNotExist(err), "%s must still apply: /%s", other.name, p)
			}
		})
	}
}

// TestIncludeDirectoriesTakeTheIncludedFilesMtime: a directory the image
// lacks gets the newest mtime of the included files below it, not the
// time of the export, so that two exports of the same files are the same.
func TestIncludeDirectoriesTakeTheIncludedFilesMtime(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(src, "etc"), 0o755))
	hostDir := t.TempDir()
	older, newer := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	hook, cfg := filepath.Join(hostDir, "hook"), filepath.Join(hostDir, "cfg")
	for p, mtime := range map[string]time.Time{hook: newer, cfg: older} {
		require.NoError(t, os.WriteFile(p, []byte(p), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
	}
	opts := Options{Include: []Include{
		{Source: hook, Dest: "/curtin/curtin-hooks"},
		{Source: cfg, Dest: "/curtin/conf/extra.cfg"},
	}}
	first, _ := packDir(t, src, filepath.Join(t.TempDir(), "a.tgz"), opts)
	out := extractCurtin(t, first.Path)
	for dir, want := range map[string]time.Time{"curtin": newer, "curtin/conf": older} {
		info, err := os.Stat(filepath.Join(out, dir))
		require.NoError(t, err)
		assert.True(t, info.ModTime().Equal(want), "%s mtime %s, want %s", dir, info.ModTime(), want)
	}
	second, _ := packDir(t, src, filepath.Join(t.TempDir(), "b.tgz"), opts)
	assert.Equal(t, first.SHA256, second.SHA256, "the same files make the same archive")
}
