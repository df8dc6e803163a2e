package maasexport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/pathid"
)

// checkPaths checks the input disk image and picks the output file before
// any work, so that a mistake costs no export. It warns of an output that
// Packer will delete with the input artifact.
func checkPaths(c *Config, input string, in packersdk.Artifact, ui packersdk.Ui) (string, error) {
	if err := checkInput(input, c.ImagePath != ""); err != nil {
		return "", err
	}
	output := resolveOutput(c.Output, defaultName(input, c.PackerBuildName, c.filetype()))
	if err := checkOutputPath(output, true); err != nil {
		return "", fmt.Errorf("maas-export: %w", err)
	}
	if pathid.Same(output, input) {
		return "", fmt.Errorf("maas-export: output %s is the disk image being exported (%s): set output to another file", output, input)
	}
	if dir, builder := deletedDir(in); dir != "" && pathid.Inside(output, dir) {
		ui.Error(fmt.Sprintf("Warning: output %s is inside %s, the %s builder's output directory, which Packer deletes "+
			"at the end of the build, with the file, unless maas-export has keep_input_artifact = true: "+
			"leave output unset or choose a path outside it", output, dir, builder))
	}
	return output, nil
}

// checkInput makes sure the disk image exists; image_path may name a file
// the build was to create, so it can only be checked now.
func checkInput(input string, fromImagePath bool) error {
	what := "the incoming artifact's disk image " + input
	if fromImagePath {
		what = "image_path " + input
	}
	info, err := os.Stat(input)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("maas-export: %s does not exist: the build did not create it", what)
	case err != nil:
		return fmt.Errorf("maas-export: %s: %w", what, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("maas-export: %s is not a regular file", what)
	}
	return nil
}

// resolveOutput is the file to write: output, the default name in output
// when that is a directory, or the default name in the working directory
// (where Packer runs; nothing of Packer's deletes it).
func resolveOutput(output, name string) string {
	switch {
	case output == "":
		output = name
	case outputIsDir(output):
		output = filepath.Join(output, name)
	}
	if abs, err := filepath.Abs(output); err == nil {
		return abs
	}
	return output
}

// dirDeletingBuilders are the builders bundled with Packer 1.9.4 whose
// artifact's Destroy removes its whole output directory (os.RemoveAll),
// by builder ID.
var dirDeletingBuilders = map[string]string{
	"transcend.qemu":       "qemu",
	"mitchellh.virtualbox": "virtualbox",
	"mitchellh.vmware":     "vmware",
}

// deletedDir is the directory Packer removes when it destroys the input
// artifact, and the builder's name; "" when destroying it removes only
// its files. The builders list their files from a walk of that directory,
// so it is the deepest directory that holds them all.
func deletedDir(in packersdk.Artifact) (dir, builder string) {
	builder, ok := dirDeletingBuilders[in.BuilderId()]
	files := in.Files()
	if !ok || len(files) == 0 {
		return "", ""
	}
	dir = filepath.Dir(absPath(files[0]))
	for _, f := range files[1:] {
		for !within(absPath(f), dir) {
			dir = filepath.Dir(dir)
		}
	}
	if dir == "/" {
		return "", ""
	}
	return dir, builder
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// within reports whether the absolute path p is below dir, by name.
func within(p, dir string) bool {
	return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// mkdirAll creates dir and its missing parents, and returns those it
// created, outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			removeDirs(created)
			return nil, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// removeDirs removes the directories mkdirAll created, innermost first,
// where they are still empty.
func removeDirs(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		_ = os.Remove(created[i])
	}
}
