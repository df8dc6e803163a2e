#!/usr/bin/env bash
# Builds a small Debian bookworm cloud image (qcow2) from Debian packages, for
# the project's end-to-end tests and quick start: no cloud image can be
# downloaded on the machines this project is tested on.
#
# The image looks like a distribution cloud image: GPT, ESP (partition 15) +
# ext4 root labelled cloudimg-rootfs (partition 1), UEFI boot through a
# Unified Kernel Image, cloud-init (NoCloud and friends), openssh-server, no
# passwords, no SSH host keys. Nothing is mounted: the file systems are made
# straight into the disk file (mkfs.vfat --offset + mtools, mkfs.ext4 -d).
#
# The result is cached by the sha256 of this script (and the architecture)
# under ${PACKER_MAAS_CACHE:-$HOME/.cache/packer-plugin-maas}/test-image/, so
# it is built once per machine; concurrent callers wait on a lock and build
# once. Progress goes to stderr; the only line on stdout is the image path.
#
# --variant xfs-lvm builds the RHEL-family layout instead (cached apart):
# GPT, the same ESP and UKI, an XFS /boot (partition 1) holding the kernel
# and initrd, and an LVM PV (partition 2, type 8e00) whose group testvg holds
# the LVs root and home (XFS; home holds one file) and swap; the fstab names
# them as anaconda does (/dev/mapper/testvg-root, UUID= for /boot), and the
# initrd activates the root LV named on the kernel command line
# (root=/dev/mapper/testvg-root). No device-mapper is needed to build it:
# lvm2 writes the metadata with activation off, each XFS is made in a file,
# filled through a loop mount and written at its LV's extents.
#
# --arch arm64 builds the same image for arm64 guests (cached apart): Debian's
# arm64 cloud kernel, a UKI made with systemd-boot-efi's arm64 stub as
# EFI/BOOT/BOOTAA64.EFI, the console on the PL011 (ttyAMA0). On an x86-64
# host, mmdebstrap runs the arm64 root's maintainer scripts through
# qemu-user-static; `scripts/bootstrap.sh arm64` sets that up.
#
# Building needs root (mmdebstrap --mode=root, and loop mounts for the
# variant); using a cached image does not.
#
# Boot it by hand: qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 2
# -m 2048, OVMF_CODE_4M.fd read-only and a copy of OVMF_VARS_4M.fd as pflash,
# the image through a qcow2 overlay as a virtio drive, a NoCloud seed (FAT
# labelled cidata: user-data with an SSH key, meta-data) as a second virtio
# drive (the cloud kernel has no AHCI, so no -cdrom), -netdev user with a
# hostfwd to port 22, -device virtio-rng-pci, -serial file:console.log.
set -euo pipefail

# stdout carries only the final path: everything else goes to stderr.
exec 3>&1 1>&2

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

variant=ext4
arch=amd64
while [ "$#" -gt 0 ]; do
	case "$1" in
	--variant) [ "$#" -ge 2 ] || die "--variant needs a value: ext4 or xfs-lvm"; variant="$2"; shift 2 ;;
	--variant=*) variant="${1#*=}"; shift ;;
	--arch) [ "$#" -ge 2 ] || die "--arch needs a value: amd64 or arm64"; arch="$2"; shift 2 ;;
	--arch=*) arch="${1#*=}"; shift ;;
	*) die "unknown argument '$1' (usage: $0 [--variant ext4|xfs-lvm] [--arch amd64|arm64])" ;;
	esac
done
case "$variant" in
ext4 | xfs-lvm) ;;
*) die "unknown variant '${variant}' (want ext4 or xfs-lvm)" ;;
esac
case "$arch" in
amd64 | arm64) ;;
*) die "unknown architecture '${arch}' (want amd64 or arm64)" ;;
esac

suite=bookworm
image_name="debian-${suite}-${arch}.qcow2"
[ "$variant" = ext4 ] || image_name="debian-${suite}-${arch}-${variant}.qcow2"

# Fixed identifiers make the image reproducible in layout, so tests may rely
# on them.
disk_guid=6b1d3f3e-2a4c-4d55-9a0e-3c7f1e0b2a11
esp_part_guid=0c5e7a0d-6f1b-4e8a-b3d2-8e5f4a9c1d15
root_part_guid=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
root_fs_uuid=9c3f6a0e-1b2d-4c5e-8f7a-0d1e2f3a4b5c
esp_volume_id=1A2B3C4D

disk_sectors=$((4 * 1024 * 1024))     # 2 GiB virtual disk, in 512-byte sectors
esp_first=2048                        # 1 MiB
esp_last=$((128 * 2048 - 1))          # up to 128 MiB
root_first=$((128 * 2048))
root_last=$((disk_sectors - 2048 - 1)) # leave 1 MiB for the backup GPT, aligned
root_offset=$((root_first * 512))
root_kib=$(((root_last - root_first + 1) / 2))
esp_kib=$(((esp_last - esp_first + 1) / 2))

# The xfs-lvm variant: /boot (partition 1) after the ESP, the PV
# (partition 2) up to the backup GPT; XFS is at least 300 MiB.
boot_part_guid=2b7e1c4d-5a6f-4e8b-9c0d-1e2f3a4b5c01
pv_part_guid=2b7e1c4d-5a6f-4e8b-9c0d-1e2f3a4b5c02
boot_fs_uuid=7d4e2a1b-3c5f-4a6e-8b9c-0d1e2f3a4b01
lvroot_fs_uuid=7d4e2a1b-3c5f-4a6e-8b9c-0d1e2f3a4b02
lvhome_fs_uuid=7d4e2a1b-3c5f-4a6e-8b9c-0d1e2f3a4b03
vg=testvg
boot_first=$((128 * 2048))
boot_last=$((448 * 2048 - 1)) # 320 MiB
pv_first=$((448 * 2048))
pv_last=$root_last
extent_mib=4
lv_sizes=(swap:64M home:320M root:100%FREE) # root takes what is left: 1.2 GiB

packages=(
	systemd-sysv "linux-image-cloud-${arch}" openssh-server cloud-init sudo
	ifupdown isc-dhcp-client cloud-guest-utils e2fsprogs dbus netbase
)
fstab_lines=("LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1" "LABEL=UEFI /boot/efi vfat umask=0077,nofail 0 1")
fstype=ext4
root_device="PARTUUID=${root_part_guid}"
if [ "$variant" = xfs-lvm ]; then
	# udev creates /dev/mapper names and activates home and swap at boot.
	packages+=(lvm2 xfsprogs udev)
	fstab_lines=(
		"/dev/mapper/${vg}-root / xfs defaults 0 0"
		"UUID=${boot_fs_uuid} /boot xfs defaults 0 0"
		"LABEL=UEFI /boot/efi vfat umask=0077,nofail 0 1"
		"/dev/mapper/${vg}-home /home xfs defaults 0 0"
		"/dev/mapper/${vg}-swap none swap defaults 0 0"
	)
	fstype=xfs
	root_device="/dev/mapper/${vg}-root"
fi

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
key="$({ cat "$script_path"; printf '%s %s' "$arch" "$variant"; } | sha256sum | cut -c1-16)"
cache_root="${PACKER_MAAS_CACHE:-$HOME/.cache/packer-plugin-maas}/test-image"
out_dir="${cache_root}/${key}"
image="${out_dir}/${image_name}"

cached() { [ -s "$image" ] && [ -s "${image}.sha256" ]; }

finish() {
	printf '%s\n' "$image" >&3
	exit 0
}

cached && finish

require_tools() {
	local missing=() entry tool pkg
	for entry in mmdebstrap:mmdebstrap sgdisk:gdisk mkfs.vfat:dosfstools \
		mmd:mtools mcopy:mtools mkfs.ext4:e2fsprogs e2fsck:e2fsprogs \
		"${objcopy}:${binutils}" "${objdump}:${binutils}" qemu-img:qemu-utils flock:util-linux \
		"${variant_tools[@]}"; do
		tool="${entry%%:*}" pkg="${entry#*:}"
		command -v "$tool" >/dev/null || missing+=("$pkg")
	done
	[ -e "$stub" ] || missing+=(systemd-boot-efi)
	if [ "${#missing[@]}" -gt 0 ]; then
		die "missing tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
	fi
}

stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
efi_name=BOOTX64.EFI
root_type=8304 # the Discoverable Partitions root type of the guest's architecture
objcopy=objcopy objdump=objdump binutils=binutils
host_arch="$(dpkg --print-architecture)"
if [ "$arch" = arm64 ]; then
	stub=/usr/lib/systemd/boot/efi/linuxaa64.efi.stub
	efi_name=BOOTAA64.EFI
	root_type=8305
	# The host's binutils know only its own PE flavour.
	[ "$host_arch" = arm64 ] || objcopy=aarch64-linux-gnu-objcopy objdump=aarch64-linux-gnu-objdump binutils=binutils-aarch64-linux-gnu
fi
variant_tools=()
[ "$variant" = ext4 ] || variant_tools=(mkfs.xfs:xfsprogs xfs_repair:xfsprogs pvcreate:lvm2 vgcreate:lvm2
	lvcreate:lvm2 lvs:lvm2 pvs:lvm2 mkswap:util-linux losetup:mount mount:mount mountpoint:util-linux)
sources=/etc/apt/sources.list.d/debian.sources

[ "$(id -u)" -eq 0 ] || die "building the test image needs root (mmdebstrap --mode=root); run this script as root once, later runs reuse ${out_dir}"
if [ "$arch" = arm64 ] && [ "$host_arch" = amd64 ]; then
	if ! { command -v arch-test >/dev/null && arch-test arm64 >/dev/null; }; then
		die "arm64 binaries do not run on this host; set it up with: scripts/bootstrap.sh arm64"
	fi
elif [ "$host_arch" != "$arch" ]; then
	die "only ${arch} hosts can build the ${arch} test image (this host is ${host_arch})"
fi
require_tools

mkdir -p "$cache_root"
exec 9>"${cache_root}/.lock"
log "waiting for the build lock ${cache_root}/.lock"
flock 9
cached && finish # another caller built it while we waited

work="$(mktemp -d "${cache_root}/.build.XXXXXX")"
loop=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local m
	for m in "$work/mnt/home" "$work/mnt/boot" "$work/mnt"; do
		if mountpoint -q "$m"; then umount "$m"; fi
	done
	if [ -n "$loop" ]; then losetup -d "$loop"; fi
	# --one-file-system: should mmdebstrap die with the host's /proc, /sys or
	# /dev still mounted in the tree, never delete through them.
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="${work}/root"
disk="${work}/disk.raw"
started=$SECONDS

# --- 1. root tree -----------------------------------------------------------
mirror=("$sources")
[ -f "$sources" ] || mirror=(http://deb.debian.org/debian)
log "mmdebstrap ${suite} (${arch}) into ${root}"
# The essential hook runs before the kernel is installed: initramfs-tools must
# see FSTYPE (ext4 or xfs), else the initrd has no fsck (or no module) for the
# root file system.
printf '%s\n' "${fstab_lines[@]}" >"${work}/fstab"
mkdir "${work}/conf.d"
echo "FSTYPE=${fstype}" >"${work}/conf.d/fstype"
# The swap LV is no resume device: without this the initrd may wait for one.
[ "$variant" = ext4 ] || echo RESUME=none >"${work}/conf.d/resume"
# shellcheck disable=SC2016 # the hooks' $1 is for mmdebstrap's shell
mmdebstrap --mode=root --variant=minbase --format=directory \
	--architectures="$arch" \
	--include="$(IFS=,; printf '%s' "${packages[*]}")" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--essential-hook="cp $(printf %q "${work}/fstab")"' "$1/etc/fstab"' \
	--essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && cp '"$(printf %q "${work}/conf.d")"'/* "$1/etc/initramfs-tools/conf.d/"' \
	"$suite" "$root" "${mirror[@]}" >&2

# --- 2. clean the tree --------------------------------------------------------
log "cleaning the tree"
rm -f "$root/etc/resolv.conf" "$root"/etc/ssh/ssh_host_*
echo debian >"$root/etc/hostname"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root/var/lib/systemd/random-seed"
echo LANG=C.UTF-8 >"$root/etc/default/locale"
mkdir -p "$root/boot/efi" "$root/etc/network/interfaces.d" "$root/etc/cloud/cloud.cfg.d"
printf '%s\n' 'auto lo' 'iface lo inet loopback' '' 'source /etc/network/interfaces.d/*' \
	>"$root/etc/network/interfaces"
printf '%s\n' 'manage_etc_hosts: true' 'ssh_genkeytypes: [rsa, ecdsa, ed25519]' \
	>"$root/etc/cloud/cloud.cfg.d/90-test-image.cfg"
# No passwords: lock every account that has one or an empty one.
sed -i -E 's/^([^:]+):[^:*!]*:/\1:*:/' "$root/etc/shadow"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log \
	"$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
if [ "$variant" = xfs-lvm ]; then
	# Something for tests to find on the home LV.
	echo "this file lives on the ${vg}-home logical volume" >"$root/home/on-home-lv.txt"
fi

# --- 3. Unified Kernel Image ----------------------------------------------------
kernels=("$root"/boot/vmlinuz-*)
if [ "${#kernels[@]}" -ne 1 ] || [ ! -f "${kernels[0]}" ]; then
	die "expected one kernel in ${root}/boot, found: ${kernels[*]}"
fi
kver="${kernels[0]##*/vmlinuz-}"
initrd="$root/boot/initrd.img-${kver}"
[ -f "$initrd" ] || die "no initrd for kernel ${kver} at ${initrd}"
cmdline="${work}/cmdline"
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check
# can fail and panic ("IO-APIC + timer doesn't work"); the check is for
# broken hardware, not for this virtual machine.
if [ "$arch" = arm64 ]; then
	printf 'root=%s ro console=tty0 console=ttyAMA0,115200n8' "$root_device" >"$cmdline"
else
	printf 'root=%s ro no_timer_check console=tty0 console=ttyS0,115200n8' "$root_device" >"$cmdline"
fi
osrel="$(readlink -f "$root/etc/os-release")"
case "$osrel" in "$root"/*) ;; *) osrel="$root/usr/lib/os-release" ;; esac

# Sections are laid out after the stub's last section, each aligned to the
# stub's SectionAlignment; .linux goes last because the stub may need room
# past it to decompress the kernel.
section_align=$((16#$("$objdump" -p "$stub" | awk '$1 == "SectionAlignment" {print $2}')))
next_vma=0
while read -r _idx _name size vma _rest; do
	end=$((16#$vma + 16#$size))
	[ "$end" -gt "$next_vma" ] && next_vma=$end
done < <("$objdump" -h "$stub" | awk 'NF == 7 && $1 ~ /^[0-9]+$/')
align_up() { echo $((($1 + section_align - 1) / section_align * section_align)); }
objcopy_args=()
for section in osrel:"$osrel" cmdline:"$cmdline" initrd:"$initrd" linux:"${kernels[0]}"; do
	name="${section%%:*}" file="${section#*:}"
	next_vma=$(align_up "$next_vma")
	objcopy_args+=(--add-section ".${name}=${file}" --change-section-vma ".${name}=$(printf '0x%x' "$next_vma")")
	next_vma=$((next_vma + $(stat -Lc %s "$file")))
done
log "building the UKI for kernel ${kver}"
"$objcopy" "${objcopy_args[@]}" "$stub" "${work}/${efi_name}"

# --- 4. disk --------------------------------------------------------------------
# make_esp puts the UKI on a FAT32 ESP at partition 15.
make_esp() {
	log "making the ESP"
	# -s 1: mtools rejects this FAT32 with the default cluster size.
	mkfs.vfat -F 32 -s 1 -n UEFI -i "$esp_volume_id" --offset "$esp_first" "$disk" "$esp_kib" >&2
	export MTOOLS_SKIP_CHECK=1
	local esp="${disk}@@$((esp_first * 512))"
	mmd -i "$esp" ::/EFI ::/EFI/BOOT
	mcopy -i "$esp" "${work}/${efi_name}" "::/EFI/BOOT/${efi_name}"
}

make_ext4_disk() {
	log "partitioning ${disk}"
	truncate -s $((disk_sectors * 512)) "$disk"
	sgdisk --clear --disk-guid="$disk_guid" \
		--new=15:${esp_first}:${esp_last} --typecode=15:ef00 --change-name=15:UEFI --partition-guid=15:${esp_part_guid} \
		--new=1:${root_first}:${root_last} --typecode=1:${root_type} --change-name=1:cloudimg-rootfs --partition-guid=1:${root_part_guid} \
		"$disk" >&2
	make_esp

	log "making the root file system"
	mkfs.ext4 -q -F -L cloudimg-rootfs -U "$root_fs_uuid" \
		-E "offset=${root_offset},nodiscard" -d "$root" "$disk" "${root_kib}k" >&2

	log "checking"
	sgdisk -v "$disk" >&2
	e2fsck -fn "${disk}?offset=${root_offset}" >&2
}

# lvm runs an lvm2 command on the PV's loop device only, with activation,
# udev and backups off: this host may have no device-mapper.
lvm() {
	local cmd="$1"
	shift
	LVM_SYSTEM_DIR="${work}/lvm" LVM_SUPPRESS_FD_WARNINGS=1 "$cmd" --devices "$loop" "$@"
}

# make_lvm_volumes writes the PV, testvg and its LVs (metadata only) into
# partition 2 and prints each LV as "name offset bytes", offset in the disk.
# It sets loop for cleanup, so it must not run in a subshell.
make_lvm_volumes() {
	mkdir "${work}/lvm"
	cat >"${work}/lvm/lvm.conf" <<-'EOF'
		devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
		activation { udev_sync = 0 udev_rules = 0 }
		global { activation = 0 }
		backup { backup = 0 archive = 0 }
	EOF
	loop="$(losetup -f --show -o $((pv_first * 512)) --sizelimit $(((pv_last - pv_first + 1) * 512)) "$disk")"
	lvm pvcreate -q "$loop" >&2
	lvm vgcreate -q -s "${extent_mib}M" "$vg" "$loop" >&2
	local lv name size pe_start first
	for lv in "${lv_sizes[@]}"; do
		name="${lv%%:*}" size="${lv#*:}"
		case "$size" in
		*%*) lvm lvcreate -q -an -Zn -l "$size" -n "$name" "$vg" >&2 ;;
		*) lvm lvcreate -q -an -Zn -L "$size" -n "$name" "$vg" >&2 ;;
		esac
	done
	pe_start="$(lvm pvs --noheadings --units b --nosuffix -o pe_start "$loop" | tr -d ' ')"
	# One segment each, "/dev/loopN:FIRST-LAST".
	lvm lvs --noheadings --units b --nosuffix --separator ' ' -o lv_name,lv_size,seg_pe_ranges "$vg" |
		while read -r name size range; do
			first="${range#*:}" first="${first%-*}"
			echo "$name $((pv_first * 512 + pe_start + first * extent_mib * 1024 * 1024)) $size"
		done
	losetup -d "$loop"
	loop=
}

make_xfs_lvm_disk() {
	log "partitioning ${disk}"
	truncate -s $((disk_sectors * 512)) "$disk"
	sgdisk --clear --disk-guid="$disk_guid" \
		--new=15:${esp_first}:${esp_last} --typecode=15:ef00 --change-name=15:UEFI --partition-guid=15:${esp_part_guid} \
		--new=1:${boot_first}:${boot_last} --typecode=1:8300 --change-name=1:boot --partition-guid=1:${boot_part_guid} \
		--new=2:${pv_first}:${pv_last} --typecode=2:8e00 --change-name=2:lvm --partition-guid=2:${pv_part_guid} \
		"$disk" >&2
	make_esp

	log "making ${vg} and its logical volumes"
	local -A offset=() bytes=()
	local name off size
	make_lvm_volumes >"${work}/lvs"
	while read -r name off size; do
		offset[$name]=$off bytes[$name]=$size
	done <"${work}/lvs"
	offset[boot]=$((boot_first * 512)) bytes[boot]=$(((boot_last - boot_first + 1) * 512))

	log "making the XFS file systems and filling them through loop mounts"
	local -A uuid=([boot]="$boot_fs_uuid" [root]="$lvroot_fs_uuid" [home]="$lvhome_fs_uuid")
	for name in boot root home; do
		truncate -s "${bytes[$name]}" "${work}/${name}.xfs"
		mkfs.xfs -q -m uuid="${uuid[$name]}" "${work}/${name}.xfs" >&2
	done
	local mnt="${work}/mnt"
	mkdir "$mnt"
	mount -o loop "${work}/root.xfs" "$mnt"
	mkdir "$mnt/boot" "$mnt/home"
	mount -o loop "${work}/boot.xfs" "$mnt/boot"
	mount -o loop "${work}/home.xfs" "$mnt/home"
	cp -a "$root/." "$mnt/"
	umount "$mnt/home" "$mnt/boot" "$mnt"

	log "checking"
	for name in boot root home; do
		xfs_repair -n -f "${work}/${name}.xfs" >&2
		dd if="${work}/${name}.xfs" of="$disk" bs=4M seek="${offset[$name]}" oflag=seek_bytes conv=notrunc,sparse status=none
	done
	truncate -s "${bytes[swap]}" "${work}/swap.img"
	mkswap -q -U clear "${work}/swap.img" >&2
	dd if="${work}/swap.img" of="$disk" bs=4M seek="${offset[swap]}" oflag=seek_bytes conv=notrunc status=none
	sgdisk -v "$disk" >&2
}

case "$variant" in
ext4) make_ext4_disk ;;
xfs-lvm) make_xfs_lvm_disk ;;
esac

# --- 5. qcow2 -----------------------------------------------------------------
mkdir "${work}/out"
log "converting to qcow2"
qemu-img convert -O qcow2 -c "$disk" "${work}/out/${image_name}"
(cd "${work}/out" && sha256sum "$image_name" >"${image_name}.sha256")

rm -rf "$out_dir" # only an incomplete result can be here: we hold the lock
mv -T "${work}/out" "$out_dir"
log "built ${image} ($(du -h --apparent-size "$image" | cut -f1)) in $((SECONDS - started)) s"
finish
