package export

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
)

// deflateMaxRatio is the most deflate can shrink anything: a match codes
// at most 258 bytes in at least 2 bits, so no deflate stream (and no gzip
// member of zeros) is smaller than 1/1032 of what it holds.
const deflateMaxRatio = 1032

// checkDDGZSpace refuses, before anything is written, a disk whose ddgz
// cannot fit at the output. A ddgz holds every byte of the virtual disk,
// holes included, so it is at least virtual size / deflateMaxRatio
// however empty the disk is. A qcow2 file of a few hundred KiB can
// declare a virtual size of petabytes, which qemu-img accepts; exported
// as ddgz, 1 PiB is a terabyte of gzip written for hours. That size cannot
// be real for a disk when even its smallest ddgz does not fit in the free
// space of the output's filesystem, so the export stops and says so.
func checkDDGZSpace(img *diskimage.Image, output string) error {
	dir := filepath.Dir(output)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil //nolint:nilerr // the writer reports an unusable directory itself
	}
	free := st.Bavail * uint64(st.Bsize)
	least := uint64(img.Size()) / deflateMaxRatio
	if least <= free {
		return nil
	}
	return fmt.Errorf("%s: its virtual size is %d bytes (%s), so its ddgz needs at least %d bytes, and %s has %d free: "+
		"shrink the disk to what it really holds (qemu-img resize --shrink, after shrinking its partitions), export the root filesystem with filetype = \"tgz\", or write to a filesystem with more space",
		img.Path(), img.Size(), humanBytes(img.Size()), least, dir, free)
}

func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i, v := 0, float64(n)
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
