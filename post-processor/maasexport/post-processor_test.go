package maasexport

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// qcow2File makes a real, empty qcow2 image.
func qcow2File(t *testing.T, dir, name string) string {
	t.Helper()
	testtool.Require(t, "qemu-img")
	p := filepath.Join(dir, name)
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", p, "16M").CombinedOutput()
	require.NoError(t, err, "qemu-img (Debian package qemu-utils): %s", out)
	return p
}

func TestInputImageChoice(t *testing.T) {
	dir := t.TempDir()
	disk := qcow2File(t, dir, "web")
	other := qcow2File(t, dir, "data")
	vars := hostFile(t, "efivars.fd")

	cases := []struct {
		name      string
		imagePath string
		artifact  *packersdk.MockArtifact
		want      string
		wantErr   string
	}{
		{"image_path wins", vars, &packersdk.MockArtifact{FilesValue: []string{disk}}, vars, ""},
		{"the qemu builder's diskName", "", &packersdk.MockArtifact{
			FilesValue: []string{other, disk, vars}, StateValues: map[string]interface{}{"diskName": "web"},
		}, disk, ""},
		{"the only qcow2 beside UEFI variables", "", &packersdk.MockArtifact{FilesValue: []string{vars, disk}}, disk, ""},
		{"the only file", "", &packersdk.MockArtifact{FilesValue: []string{vars}}, vars, ""},
		{"no files", "", &packersdk.MockArtifact{FilesValue: []string{}}, "", "has no files; set image_path"},
		{"two disks", "", &packersdk.MockArtifact{FilesValue: []string{disk, other}}, "", "several files"},
		{"already a MAAS image", "", &packersdk.MockArtifact{
			FilesValue: []string{"/b/root.tar.gz"}, StateValues: map[string]interface{}{maasartifact.StatePath: "/b/root.tar.gz"},
		}, "", "already a MAAS image file, /b/root.tar.gz"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inputImage(tc.imagePath, tc.artifact)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// ext4Disk makes a whole-disk ext4 image holding a minimal root: an
// os-release and a real amd64 ELF program.
func ext4Disk(t *testing.T) string {
	t.Helper()
	testtool.Require(t, "mkfs.ext4")
	tree := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "etc/os-release"), []byte("ID=ubuntu\nVERSION_CODENAME=noble\n"), 0o644))
	env, err := os.ReadFile("/usr/bin/env")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tree, "usr/bin/env"), env, 0o755))
	disk := filepath.Join(t.TempDir(), "disk.raw")
	out, err := exec.Command("mkfs.ext4", "-q", "-L", "root", "-d", tree, disk, "8M").CombinedOutput()
	require.NoError(t, err, "mkfs.ext4 (Debian package e2fsprogs): %s", out)
	return disk
}

// TestPostProcessWritesTheArtifact: without output, the file goes into
// the working directory, not next to the disk, whose directory Packer may
// delete.
func TestPostProcessWritesTheArtifact(t *testing.T) {
	disk := ext4Disk(t)
	work := t.TempDir()
	t.Chdir(work)
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"packer_build_name": "web", "architecture": "arm64/generic"}))
	ui := &packersdk.MockUi{}
	art, keep, force, err := p.PostProcess(context.Background(), ui, &packersdk.MockArtifact{FilesValue: []string{disk}})
	require.NoError(t, err)
	assert.False(t, keep, "the disk image is the input artifact Packer removes unless keep_input_artifact is set")
	assert.False(t, force)
	want := filepath.Join(work, "web.tar.gz")
	assert.Equal(t, []string{want, want + ".manifest", want + ".spdx.json", want + ".sha256"}, art.Files(), "the image, then the files beside it")
	assert.NoFileExists(t, filepath.Join(filepath.Dir(disk), "web.tar.gz"))
	assert.FileExists(t, want)
	assert.Equal(t, "ubuntu/noble", art.State(maasartifact.StateBaseImage))
	assert.Equal(t, "arm64/generic", art.State(maasartifact.StateArchitecture), "the setting wins")
	assert.Contains(t, ui.ErrorMessage, "the image's programs are amd64/generic", "a mismatch is pointed out")
	generated := art.State("generated_data").(map[string]interface{})
	assert.Equal(t, "tgz", generated["MAASFiletype"], "published as maas-rootfs does")
}

func TestPostProcessRefusesToOverwriteItsInput(t *testing.T) {
	disk := ext4Disk(t)
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"output": disk}))
	_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{disk}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is the disk image being exported")
	info, err := os.Stat(disk)
	require.NoError(t, err)
	assert.Equal(t, int64(8<<20), info.Size(), "the disk image is untouched")
}

// TestPostProcessDDGZNeedsArchitectureWhenTheImageCannotTell: an empty
// disk was labelled amd64/generic; now the export asks for the setting.
func TestPostProcessDDGZNeedsArchitectureWhenTheImageCannotTell(t *testing.T) {
	dir := t.TempDir()
	disk := qcow2File(t, dir, "blank.qcow2")
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"filetype": "ddgz", "output": filepath.Join(dir, "out.dd.gz")}))
	_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{disk}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "maas-export: cannot tell the image's architecture")
	assert.Contains(t, err.Error(), `set architecture to what it is, like "amd64/generic"`)
	assert.NoFileExists(t, filepath.Join(dir, "out.dd.gz"))

	require.NoError(t, p.Configure(map[string]interface{}{"filetype": "ddgz", "output": filepath.Join(dir, "out.dd.gz"), "architecture": "arm64/generic"}))
	art, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{disk}})
	require.NoError(t, err)
	assert.Equal(t, "arm64/generic", art.State(maasartifact.StateArchitecture))
}

// TestBackingChainPolicy: the stock qemu builder's use_backing_file disk
// names its base by absolute path in Packer's cache directory, and is
// exported with the chain shown; a backing file elsewhere is refused with
// an error that names it and the setting, unless backing_file_dirs
// allows its directory.
func TestBackingChainPolicy(t *testing.T) {
	elsewhere := t.TempDir()
	base := filepath.Join(elsewhere, "0123abcd.qcow2") // a cache file's name: its checksum
	out, err := exec.Command("qemu-img", "convert", "-O", "qcow2", ext4Disk(t), base).CombinedOutput()
	require.NoError(t, err, "%s", out)
	disk := filepath.Join(t.TempDir(), "packer-web")
	out, err = exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", disk).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Chdir(t.TempDir()) // where the default output goes
	export := func(settings map[string]interface{}) (*packersdk.MockUi, error) {
		var p PostProcessor
		require.NoError(t, p.Configure(settings))
		ui := &packersdk.MockUi{}
		_, _, _, err := p.PostProcess(context.Background(), ui, &packersdk.MockArtifact{FilesValue: []string{disk}})
		return ui, err
	}

	t.Setenv("PACKER_CACHE_DIR", t.TempDir())
	_, err = export(map[string]interface{}{})
	require.Error(t, err, "a backing file outside the input's tree and the cache")
	assert.Contains(t, err.Error(), base)
	assert.Contains(t, err.Error(), "backing_file_dirs")

	chain := "backing chain: " + disk + " -> " + base
	ui, err := export(map[string]interface{}{"backing_file_dirs": []string{elsewhere}})
	require.NoError(t, err)
	assert.Contains(t, said(ui), chain)

	t.Setenv("PACKER_CACHE_DIR", elsewhere)
	ui, err = export(map[string]interface{}{})
	require.NoError(t, err, "the stock qemu builder's backing file in Packer's cache")
	assert.Contains(t, said(ui), chain)
}

func said(ui *packersdk.MockUi) string {
	var all []string
	for _, m := range ui.SayMessages {
		all = append(all, m.Message)
	}
	return strings.Join(all, "\n")
}

// TestPostProcessRefusesOutputThatIsTheInputByAnotherName: the incoming
// artifact's disk named through .. or a symlink is still the disk.
func TestPostProcessRefusesOutputThatIsTheInputByAnotherName(t *testing.T) {
	disk := ext4Disk(t)
	before := hashOf(t, disk)
	for name, output := range map[string]string{"..": dotDotPath(t, disk), "symlink": symlinkTo(t, disk)} {
		t.Run(name, func(t *testing.T) {
			var p PostProcessor
			require.NoError(t, p.Configure(map[string]interface{}{"output": output}))
			_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{disk}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "is the disk image being exported")
			assert.Equal(t, before, hashOf(t, disk), "the disk image is untouched")
		})
	}
}

func hashOf(t *testing.T, p string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// TestPostProcessChecksImagePathBeforeAnyWork: image_path may be missing
// at validate; at the start of the export its absence is the error, and
// nothing is created.
func TestPostProcessChecksImagePathBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{
		"image_path": filepath.Join(dir, "output-x", "disk.qcow2"),
		"output":     filepath.Join(dir, "images", "x.tar.gz"),
	}))
	_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "image_path "+filepath.Join(dir, "output-x", "disk.qcow2")+" does not exist")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestPostProcessOutputDirectory: an output ending in / or naming a
// directory gets the default name in it.
func TestPostProcessOutputDirectory(t *testing.T) {
	disk := ext4Disk(t)
	existing := t.TempDir()
	fresh := filepath.Join(t.TempDir(), "images") + "/"
	for output, want := range map[string]string{
		existing: filepath.Join(existing, "web.tar.gz"),
		fresh:    filepath.Join(fresh, "web.tar.gz"),
	} {
		var p PostProcessor
		require.NoError(t, p.Configure(map[string]interface{}{"packer_build_name": "web", "output": output}))
		art, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{disk}})
		require.NoError(t, err, output)
		assert.Equal(t, want, art.Files()[0])
		assert.FileExists(t, want)
	}
}

// TestPostProcessRefusesADirectoryBeforeAnyWork: the default name inside
// an output directory may itself be a directory.
func TestPostProcessRefusesADirectoryBeforeAnyWork(t *testing.T) {
	disk := ext4Disk(t)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "web.tar.gz"), 0o755))
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"packer_build_name": "web", "output": dir + "/"}))
	ui := &packersdk.MockUi{}
	_, _, _, err := p.PostProcess(context.Background(), ui, &packersdk.MockArtifact{FilesValue: []string{disk}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "output "+filepath.Join(dir, "web.tar.gz")+" is a directory")
	assert.False(t, ui.SayCalled, "nothing was exported")
}

// TestFailedExportRemovesTheDirectoriesItCreated: a failed export leaves
// neither a file nor the output's new directories.
func TestFailedExportRemovesTheDirectoriesItCreated(t *testing.T) {
	notADisk := hostFile(t, "notes.txt")
	dir := t.TempDir()
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"output": filepath.Join(dir, "new", "sub", "x.tar.gz")}))
	_, _, _, err := p.PostProcess(context.Background(), &packersdk.MockUi{}, &packersdk.MockArtifact{FilesValue: []string{notADisk}})
	require.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestPostProcessWarnsOfAnOutputPackerDeletes: the qemu builder's
// artifact deletes its output directory; an output in it, through any
// path, is pointed out, and the default output is not in it.
func TestPostProcessWarnsOfAnOutputPackerDeletes(t *testing.T) {
	build := t.TempDir()
	outputDir := filepath.Join(build, "output-web")
	require.NoError(t, os.Mkdir(outputDir, 0o755))
	disk := filepath.Join(outputDir, "disk.raw")
	require.NoError(t, os.Rename(ext4Disk(t), disk))
	vars := filepath.Join(outputDir, "efivars.fd")
	require.NoError(t, os.WriteFile(vars, nil, 0o644))
	link := filepath.Join(build, "link")
	require.NoError(t, os.Symlink(outputDir, link))
	t.Chdir(build)
	qemu := &packersdk.MockArtifact{BuilderIdValue: "transcend.qemu", FilesValue: []string{vars, disk},
		StateValues: map[string]interface{}{"diskName": "disk.raw"}}

	for _, output := range []string{filepath.Join(outputDir, "web.tar.gz"), filepath.Join(link, "sub", "web.tar.gz"), "output-web/../output-web/x.tar.gz"} {
		var p PostProcessor
		require.NoError(t, p.Configure(map[string]interface{}{"output": output}))
		ui := &packersdk.MockUi{}
		_, _, _, err := p.PostProcess(context.Background(), ui, qemu)
		require.NoError(t, err)
		assert.Contains(t, ui.ErrorMessage, "is inside "+outputDir+", the qemu builder's output directory, which Packer deletes", output)
		assert.Contains(t, ui.ErrorMessage, "keep_input_artifact = true", output)
	}

	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{"packer_build_name": "web"}))
	ui := &packersdk.MockUi{}
	art, _, _, err := p.PostProcess(context.Background(), ui, qemu)
	require.NoError(t, err)
	assert.Empty(t, ui.ErrorMessage)
	assert.Equal(t, filepath.Join(build, "web.tar.gz"), art.Files()[0])
	require.NoError(t, os.RemoveAll(outputDir), "what the qemu builder's artifact does")
	assert.FileExists(t, filepath.Join(build, "web.tar.gz"))
}
