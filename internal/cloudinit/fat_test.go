package cloudinit

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// tool runs an independent reader, failing the test (naming the Debian
// package) when it is missing. It is not testtool.CombinedOutput because
// mtools needs its environment.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	testtool.Require(t, name)
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=0", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkSeed reads the seed back with mtools, dosfstools and blkid.
func checkSeed(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	fsck := tool(t, "fsck.fat", "-n", "-v", path)
	if !strings.Contains(fsck, "12 bit entries") {
		t.Errorf("fsck.fat does not see a FAT12:\n%s", fsck)
	}
	probe := tool(t, "blkid", "-p", "-o", "export", path)
	for _, want := range []string{"TYPE=vfat", "LABEL=CIDATA"} {
		if !strings.Contains(probe, want+"\n") {
			t.Errorf("blkid output lacks %s:\n%s", want, probe)
		}
	}
	listing := tool(t, "mdir", "-i", path, "-b", "::/")
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		listed = append(listed, strings.TrimPrefix(line, "::/"))
	}
	var want []string
	for name := range files {
		want = append(want, name)
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("mdir lists %q, want %q", listed, want)
	}
	for name, content := range files {
		got := tool(t, "mtype", "-i", path, "::/"+name)
		if !bytes.Equal([]byte(got), content) {
			t.Errorf("%s reads back as %d bytes, want %d bytes", name, len(got), len(content))
		}
	}
}

func TestWriteSeedReadByIndependentTools(t *testing.T) {
	cases := map[string]map[string][]byte{
		"nocloud": {
			"user-data":      []byte("#cloud-config\nssh_pwauth: false\n"),
			"meta-data":      []byte("instance-id: iid-1\nlocal-hostname: build\n"),
			"network-config": []byte("version: 2\n"),
			"vendor-data":    {},
		},
		"cluster edges": {
			"a": randomBytes(511, 1), "b": randomBytes(512, 2), "c": randomBytes(513, 3),
			"eight.txt": randomBytes(1, 4), "a-name-longer-than-thirteen-characters-and-twenty-six.yaml": randomBytes(1500, 5),
		},
		// More than 4084 clusters of 512 bytes: the writer must grow clusters.
		"large": {"user-data": randomBytes(3<<20, 6), "meta-data": []byte("instance-id: x\n")},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "seed.img")
			if err := WriteSeed(path, files); err != nil {
				t.Fatal(err)
			}
			checkSeed(t, path, files)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("seed mode %v, want 0600", info.Mode().Perm())
			}
		})
	}
}

func TestWriteSeedIsReproducibleAndOverwrites(t *testing.T) {
	files := map[string][]byte{"user-data": []byte("#cloud-config\n"), "meta-data": []byte("instance-id: a\n")}
	dir := t.TempDir()
	first, second := filepath.Join(dir, "1.img"), filepath.Join(dir, "2.img")
	if err := os.WriteFile(second, randomBytes(1<<20, 7), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{first, second} {
		if err := WriteSeed(p, files); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if !bytes.Equal(a, b) {
		t.Error("the same files gave different images (or old content survived)")
	}
	if len(a) > 64<<10 {
		t.Errorf("a tiny seed takes %d bytes", len(a))
	}
}

func TestWriteSeedRefusesBadInput(t *testing.T) {
	many := map[string][]byte{}
	for i := range 40000 {
		many[fmt.Sprintf("f%d", i)] = nil
	}
	tests := map[string]struct {
		files  map[string][]byte
		errHas string
	}{
		"no files":   {map[string][]byte{}, "no files"},
		"slash":      {map[string][]byte{"dir/user-data": nil}, "only A-Z a-z 0-9 . _ -"},
		"dot":        {map[string][]byte{"..": nil}, "invalid file name"},
		"too long":   {map[string][]byte{strings.Repeat("x", 256): nil}, "invalid file name"},
		"case clash": {map[string][]byte{"user-data": nil, "USER-DATA": nil}, "differ only in case"},
		"too many":   {many, "more than a FAT12 root directory holds"},
		"non-ASCII":  {map[string][]byte{"üser-data": nil}, "only A-Z"},
	}
	for name, tt := range tests {
		err := WriteSeed(filepath.Join(t.TempDir(), "seed.img"), tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tt.errHas)
		}
	}
}

func TestShortNamesAreUnique83(t *testing.T) {
	tests := map[string]string{
		"user-data":      "USER-D~1   ",
		"network-config": "NETWOR~1   ",
		"a.b.yaml":       "AB~1    YAM",
		".hidden":        "HIDDEN~1   ",
		"x":              "X~1        ",
	}
	for name, want := range tests {
		if got := string(shortName(name, 1)); got != want {
			t.Errorf("shortName(%q) = %q, want %q", name, got, want)
		}
	}
	if got := string(shortName("user-data", 12)); got != "USER-~12   " {
		t.Errorf("two-digit tail: %q", got)
	}
}
