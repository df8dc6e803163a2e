package mounttree

import (
	"errors"
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
	"github.com/c34478be/packer-plugin-maas/internal/fstab"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// Assemble opens every Mount's filesystem from the disk and mounts it on
// root, in plan order.
func Assemble(disk io.ReaderAt, root fstree.FS, plan []Mount) (*Tree, error) {
	t, err := New(root)
	if err != nil {
		return nil, err
	}
	for _, m := range plan {
		what := describeMount(m)
		fs, err := Open(disk, m.Volume, mountOptions(m.Entry))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := t.mount(m.Point, fs); err != nil {
			if errors.Is(err, errNoMountPoint) {
				return nil, fmt.Errorf("%s: the image has no directory %s to mount it on: %v; create it in the image, or remove the entry", what, m.Point, err)
			}
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return t, nil
}

func describeMount(m Mount) string {
	if m.Entry != nil {
		return m.Entry.String()
	}
	return fmt.Sprintf("/boot (%s)", m.Volume.Describe())
}

// autoBootOptions are the options of a /boot that fstab does not mount:
// systemd-gpt-auto-generator mounts an XBOOTLDR partition with umask=0077.
var autoBootOptions = fstree.MountOptions{"umask=0077"}

func mountOptions(e *fstab.Entry) fstree.MountOptions {
	if e == nil {
		return autoBootOptions
	}
	return e.Options
}

// Open opens the filesystem on v through the filesystem registry, with
// the mount options opts.
func Open(disk io.ReaderAt, v volume.Volume, opts fstree.MountOptions) (fstree.FS, error) {
	r, size, err := v.Open(disk)
	if err != nil {
		return nil, err
	}
	fs, err := filesystem.Open(v.Filesystem, r, size, opts)
	if errors.Is(err, filesystem.ErrNoReader) {
		return nil, fmt.Errorf("%s holds %s, which a tgz export cannot read; export the whole disk with filetype = \"ddgz\"",
			v.Describe(), orUnknown(v.Filesystem))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Title(), err)
	}
	return fs, nil
}

func orUnknown(fs string) string {
	if fs == "" {
		return "an unknown filesystem"
	}
	return fs
}
