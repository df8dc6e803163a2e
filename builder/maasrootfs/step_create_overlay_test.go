package maasrootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// TestDownloadedBaseWithABackingFileIsRefused: a downloaded cloud image
// whose header names a backing file is refused before the VM boots, with
// image_url and the backing file named, and no VM disk made.
func TestDownloadedBaseWithABackingFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "0123abcd.img")
	testtool.CombinedOutput(t, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", base, "1M")
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	state.Put(keyImagePath, base)
	step := &stepCreateOverlay{driver: qemuDriver{}, imageURL: "https://images.example/noble.img", outputDir: dir}
	defer step.Cleanup(state)

	if action := step.Run(context.Background(), state); action != multistep.ActionHalt {
		t.Fatalf("the step went on with a base backed by /etc/shadow: %s", ui.String())
	}
	err, _ := state.Get("error").(error)
	for _, want := range []string{"image_url https://images.example/noble.img", `"/etc/shadow"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	if _, statErr := os.Stat(filepath.Join(step.workDir, "disk.qcow2")); !os.IsNotExist(statErr) {
		t.Errorf("a VM disk was made: %v", statErr)
	}
}
