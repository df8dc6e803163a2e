package export

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// Identities of the RHEL-like test disks' filesystems and partitions.
const (
	bootUUID     = "0d3e7a5c-9a52-4c5f-8c5b-3f2d2a4d1b0e"
	bootPartGUID = "6a1c7e52-3b0d-4c1f-9e8a-5d4c3b2a1f00"
	varUUID      = "7c2b9d41-0a1e-4f5c-8b3d-2e1f0a9b8c7d"
	mbrLabelID   = "1234abcd"
	kernelName   = "vmlinuz-6.1.0-test"
)

// mkext4 formats a partition with a fixed UUID and label from a tree.
func mkext4(tree, label, uuid string) func(t *testing.T, disk string, offset, size int64) {
	return func(t *testing.T, disk string, offset, size int64) {
		args := []string{"-q", "-F", "-L", label, "-E", fmt.Sprintf("offset=%d,nodiscard", offset), "-d", tree}
		if uuid != "" {
			args = append(args, "-U", uuid)
		}
		run(t, "mkfs.ext4", append(args, disk, fmt.Sprintf("%dk", size/1024))...)
	}
}

func vfatESP(t *testing.T, disk string, offset, size int64) {
	run(t, "mkfs.vfat", "-F", "32", "-s", "1", "-i", "7b7795e7", "--offset", fmt.Sprint(offset/512), disk, fmt.Sprint(size/1024))
}

// rhelLikeRoot is a root tree with an empty /boot and /var/lib, and the
// given /etc/fstab.
func rhelLikeRoot(t *testing.T, fstabText string) string {
	root := ubuntuLikeTree(t)
	writeFile(t, filepath.Join(root, "usr/lib/os-release"),
		"PRETTY_NAME=\"Rocky Linux 9.5 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n", 0o644)
	writeFile(t, filepath.Join(root, "etc/fstab"), fstabText, 0o644)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "var/lib"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "srv"), 0o755))
	return root
}

func bootTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "boot")
	writeFile(t, filepath.Join(dir, kernelName), "kernel image", 0o755)
	writeFile(t, filepath.Join(dir, "loader/entries/test.conf"), "linux /"+kernelName+"\n", 0o644)
	return dir
}

func varTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "var")
	writeFile(t, filepath.Join(dir, "lib/rpm/rpmdb.sqlite"), "packages", 0o644)
	return dir
}

// rhelGPTDisk is the RHEL/Fedora layout: ESP, a plain 8300 /boot, an 8300
// root, and an 8300 /var, none labelled as a root or XBOOTLDR.
func rhelGPTDisk(t *testing.T, fstabText string) string {
	disk := gptDisk(t,
		partSpec{num: 1, sizeMiB: 40, typ: "ef00", name: "EFI System Partition", mkfs: vfatESP},
		partSpec{num: 2, sizeMiB: 16, typ: "8300", name: "bootpart", mkfs: mkext4(bootTree(t), "boot", bootUUID)},
		partSpec{num: 3, sizeMiB: 24, typ: "8300", name: "rootpart", mkfs: mkext4(rhelLikeRoot(t, fstabText), "", "")},
		partSpec{num: 4, sizeMiB: 16, typ: "8300", name: "varpart", mkfs: mkext4(varTree(t), "var", varUUID)},
	)
	run(t, "sgdisk", "-u2:"+bootPartGUID, disk)
	return disk
}

// rhelMBRDisk is the same layout on MBR with type 0x83 partitions.
func rhelMBRDisk(t *testing.T, fstabText string) string {
	disk := filepath.Join(t.TempDir(), "mbr.raw")
	run(t, "truncate", "-s", "80M", disk)
	requireTool(t, "sfdisk")
	cmd := exec.Command("sfdisk", "-q", disk)
	cmd.Stdin = strings.NewReader("label: dos\nlabel-id: 0x" + mbrLabelID + "\n" +
		"start=2048, size=32768, type=83\nstart=34816, size=49152, type=83\nstart=83968, size=32768, type=83\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sfdisk: %s", out)
	mkext4(bootTree(t), "boot", bootUUID)(t, disk, 2048*512, 16*mib)
	mkext4(rhelLikeRoot(t, fstabText), "", "")(t, disk, 34816*512, 24*mib)
	mkext4(varTree(t), "var", varUUID)(t, disk, 83968*512, 16*mib)
	return disk
}

// fstabWith is a RHEL-style fstab mounting /boot by bootSpec, plus the
// lines an export must leave out.
func fstabWith(bootSpec string, more ...string) string {
	lines := append([]string{
		"# /etc/fstab, created by anaconda",
		"UUID=0a0a0a0a-1111-2222-3333-444444444444 / ext4 defaults 1 1",
		bootSpec + " /boot ext4 defaults 1 2",
		"UUID=7B77-95E7 /boot/efi vfat umask=0077,shortname=winnt 0 2",
		"/dev/mapper/rl-swap none swap defaults 0 0",
		"tmpfs /tmp tmpfs defaults 0 0",
		"proc /proc proc defaults 0 0",
		"nas:/export /srv nfs defaults,_netdev 0 0",
	}, more...)
	return strings.Join(lines, "\n") + "\n"
}

func exportTGZ(t *testing.T, disk string, opts Options) (Result, string, error) {
	output := filepath.Join(t.TempDir(), "out.tar.gz")
	opts.Input, opts.Output = disk, output
	opts.Tar = tarball.Options{Generalize: tarball.DefaultGeneralize()}
	var log []string
	opts.Log = func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) }
	res, err := Run(context.Background(), opts)
	t.Log(strings.Join(log, "\n"))
	return res, output, err
}

// TestExportMountsWhatFstabMounts: a /boot (and /var) on plain Linux
// partitions, named in the root's /etc/fstab in each way fstab can name
// a device, are packed under ./boot and ./var, and GNU tar (extracting as
// curtin does) yields the kernel.
func TestExportMountsWhatFstabMounts(t *testing.T) {
	varLine := "UUID=" + varUUID + " /var ext4 defaults 0 2"
	cases := []struct {
		name string
		disk func(t *testing.T, fstab string) string
		spec string
	}{
		{"GPT UUID=", rhelGPTDisk, "UUID=" + bootUUID},
		{"GPT UUID= uppercase", rhelGPTDisk, "UUID=" + strings.ToUpper(bootUUID)},
		{"GPT LABEL=", rhelGPTDisk, "LABEL=boot"},
		{"GPT PARTUUID=", rhelGPTDisk, "PARTUUID=" + bootPartGUID},
		{"GPT PARTLABEL=", rhelGPTDisk, "PARTLABEL=bootpart"},
		{"GPT by-uuid", rhelGPTDisk, "/dev/disk/by-uuid/" + bootUUID},
		{"GPT /dev/vda2", rhelGPTDisk, "/dev/vda2"},
		{"MBR UUID=", rhelMBRDisk, "UUID=" + bootUUID},
		{"MBR PARTUUID=", rhelMBRDisk, "PARTUUID=" + mbrLabelID + "-01"},
		{"MBR /dev/sda1", rhelMBRDisk, "/dev/sda1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			disk := tc.disk(t, fstabWith(tc.spec, varLine))
			res, output, err := exportTGZ(t, disk, Options{})
			require.NoError(t, err)
			require.NotNil(t, res.Boot)
			assert.Equal(t, bootUUID, res.Boot.FSUUID)
			assert.Equal(t, "rhel/9", res.BaseImage)
			var points []string
			for _, m := range res.Mounts {
				points = append(points, m.Point)
			}
			assert.Equal(t, []string{"/boot", "/var"}, points)

			got := extractLikeCurtin(t, output)
			kernel, err := os.ReadFile(filepath.Join(got, "boot", kernelName))
			require.NoError(t, err, "the /boot partition fstab names must be packed under ./boot")
			assert.Equal(t, "kernel image", string(kernel))
			st, err := os.Stat(filepath.Join(got, "boot", kernelName))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
			assert.FileExists(t, filepath.Join(got, "boot/loader/entries/test.conf"))
			assert.FileExists(t, filepath.Join(got, "var/lib/rpm/rpmdb.sqlite"), "/var from fstab is packed")
			assert.NoDirExists(t, filepath.Join(got, "boot/efi/EFI"), "the ESP stays out")
			fstabText, err := os.ReadFile(filepath.Join(got, "etc/fstab"))
			require.NoError(t, err)
			assert.Contains(t, string(fstabText), " /boot ext4 ")
		})
	}
}

// TestExportFstabErrors: what fstab names but the disk lacks fails with
// the fstab line and the ways out; boot_partition settles what fstab
// cannot; nofail entries that are missing are left out.
func TestExportFstabErrors(t *testing.T) {
	missing := "UUID=ffffffff-0000-0000-0000-000000000000"
	t.Run("missing /boot", func(t *testing.T) {
		_, output, err := exportTGZ(t, rhelGPTDisk(t, fstabWith(missing)), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `/etc/fstab line 3 ("`+missing+` /boot ext4 defaults 1 2"): no volume of the disk has `+missing)
		assert.Contains(t, err.Error(), `set boot_partition to the /boot partition's number, name or label (or "none" to leave /boot out)`)
		assert.Contains(t, err.Error(), "partition 2, 15.0 MiB, Linux filesystem, ext4, name \"bootpart\", label \"boot\", UUID "+bootUUID+", PARTUUID "+bootPartGUID)
		assert.NoFileExists(t, output)
	})
	t.Run("boot_partition overrides fstab", func(t *testing.T) {
		res, output, err := exportTGZ(t, rhelGPTDisk(t, fstabWith(missing)), Options{BootPartition: "bootpart"})
		require.NoError(t, err)
		require.NotNil(t, res.Boot)
		assert.Equal(t, 2, res.Boot.Number)
		assert.FileExists(t, filepath.Join(extractLikeCurtin(t, output), "boot", kernelName))
	})
	t.Run("boot_partition none", func(t *testing.T) {
		res, output, err := exportTGZ(t, rhelGPTDisk(t, fstabWith(missing)), Options{BootPartition: BootNone})
		require.NoError(t, err)
		assert.Nil(t, res.Boot)
		assert.NoFileExists(t, filepath.Join(extractLikeCurtin(t, output), "boot", kernelName))
	})
	t.Run("boot_partition unknown", func(t *testing.T) {
		_, _, err := exportTGZ(t, rhelGPTDisk(t, fstabWith(missing)), Options{BootPartition: "7"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `boot_partition: no partition has the number, name or label "7"`)
	})
	t.Run("nested mounts, child first in fstab", func(t *testing.T) {
		// The boot filesystem goes on /var/lib/rpm, which only /var has.
		disk := rhelGPTDisk(t, "LABEL=boot /var/lib/rpm ext4 defaults 0 2\nLABEL=var /var ext4 defaults 0 2\n")
		res, output, err := exportTGZ(t, disk, Options{})
		require.NoError(t, err)
		require.Len(t, res.Mounts, 2)
		assert.Equal(t, "/var", res.Mounts[0].Point, "parents are mounted first")
		got := extractLikeCurtin(t, output)
		assert.FileExists(t, filepath.Join(got, "var/lib/rpm", kernelName))
		assert.NoFileExists(t, filepath.Join(got, "var/lib/rpm/rpmdb.sqlite"), "the mount hides what is under it, as on the running system")
	})
	t.Run("missing nofail", func(t *testing.T) {
		res, _, err := exportTGZ(t, rhelGPTDisk(t, fstabWith("LABEL=boot", missing+" /data ext4 nofail 0 2")), Options{})
		require.NoError(t, err)
		assert.Len(t, res.Mounts, 1)
	})
	t.Run("missing /var", func(t *testing.T) {
		_, _, err := exportTGZ(t, rhelGPTDisk(t, fstabWith("LABEL=boot", "/dev/mapper/rl-var /var xfs defaults 0 0")), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `/etc/fstab line 9 ("/dev/mapper/rl-var /var xfs defaults 0 0"): no volume of the disk has /dev/mapper/rl-var`)
		assert.Contains(t, err.Error(), "correct the image's /etc/fstab, or add nofail to the entry to leave it out")
	})
	t.Run("no mount point", func(t *testing.T) {
		_, _, err := exportTGZ(t, rhelGPTDisk(t, fstabWith("LABEL=boot", "LABEL=var /opt/data ext4 defaults 0 2")), Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `/etc/fstab line 9 ("LABEL=var /opt/data ext4 defaults 0 2"): the image has no directory /opt/data to mount it on`)
	})
	t.Run("unreadable filesystem", func(t *testing.T) {
		disk := rhelGPTDisk(t, fstabWith("LABEL=boot", "PARTLABEL=varpart /var auto defaults 0 2"))
		zero(t, disk, 81*mib, 4096) // partition 4's superblock
		_, _, err := exportTGZ(t, disk, Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `/etc/fstab line 9 ("PARTLABEL=varpart /var auto defaults 0 2"): partition 4, 15.0 MiB`)
		assert.Contains(t, err.Error(), `holds an unknown filesystem, which a tgz export cannot read; export the whole disk with filetype = "ddgz"`)
	})
}

// vfatBoot formats a FAT16 /boot and copies a kernel in with mtools (vfat
// cannot be mounted here).
func vfatBoot(t *testing.T, disk string, offset, size int64) {
	run(t, "mkfs.vfat", "-F", "16", "-i", "b007b007", "--offset", fmt.Sprint(offset/512), disk, fmt.Sprint(size/1024))
	src := filepath.Join(t.TempDir(), kernelName)
	writeFile(t, src, "kernel image", 0o644)
	target := fmt.Sprintf("%s@@%d", disk, offset)
	run(t, "mmd", "-i", target, "::loader", "::loader/entries")
	run(t, "mcopy", "-i", target, src, "::"+kernelName)
	run(t, "mcopy", "-i", target, src, "::loader/entries/"+kernelName)
}

// TestExportReadsAVFATBoot: an XBOOTLDR /boot on vfat, as the Boot Loader
// Specification recommends, is read, not refused; modes follow the mount
// options (fstab's, or systemd's umask=0077 for a /boot fstab omits).
func TestExportReadsAVFATBoot(t *testing.T) {
	for _, tc := range []struct {
		name, fstab string
		mode        os.FileMode
	}{
		{"XBOOTLDR, no fstab line", "", 0o700},
		{"fstab UUID=", "UUID=B007-B007 /boot vfat umask=0022 0 2\n", 0o755},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := ubuntuLikeTree(t)
			if tc.fstab != "" {
				writeFile(t, filepath.Join(root, "etc/fstab"), tc.fstab, 0o644)
			}
			disk := gptDisk(t,
				partSpec{num: 1, sizeMiB: 40, typ: "ef00", name: "esp", mkfs: vfatESP},
				partSpec{num: 2, sizeMiB: 40, typ: "ea00", name: "xbootldr", mkfs: vfatBoot},
				partSpec{num: 3, sizeMiB: 24, typ: "8304", name: "root", mkfs: ext4From(root, "root")},
			)
			res, output, err := exportTGZ(t, disk, Options{})
			require.NoError(t, err)
			require.NotNil(t, res.Boot)
			assert.Equal(t, 2, res.Boot.Number)
			got := extractLikeCurtin(t, output)
			kernel, err := os.ReadFile(filepath.Join(got, "boot", kernelName))
			require.NoError(t, err)
			assert.Equal(t, "kernel image", string(kernel))
			assert.FileExists(t, filepath.Join(got, "boot/loader/entries", kernelName))
			st, err := os.Stat(filepath.Join(got, "boot", kernelName))
			require.NoError(t, err)
			assert.Equal(t, tc.mode, st.Mode().Perm())
		})
	}
}
