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
# Building needs root (mmdebstrap --mode=root); using a cached image does not.
set -euo pipefail

# stdout carries only the final path: everything else goes to stderr.
exec 3>&1 1>&2

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

arch=amd64
suite=bookworm
image_name="debian-${suite}-${arch}.qcow2"

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

packages=(
	systemd-sysv linux-image-cloud-amd64 openssh-server cloud-init sudo
	ifupdown isc-dhcp-client cloud-guest-utils e2fsprogs dbus netbase
)

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
key="$({ cat "$script_path"; printf '%s' "$arch"; } | sha256sum | cut -c1-16)"
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
		objcopy:binutils objdump:binutils qemu-img:qemu-utils flock:util-linux; do
		tool="${entry%%:*}" pkg="${entry#*:}"
		command -v "$tool" >/dev/null || missing+=("$pkg")
	done
	[ -e "$stub" ] || missing+=(systemd-boot-efi)
	if [ "${#missing[@]}" -gt 0 ]; then
		die "missing tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
	fi
}

stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
sources=/etc/apt/sources.list.d/debian.sources

[ "$(id -u)" -eq 0 ] || die "building the test image needs root (mmdebstrap --mode=root); run this script as root once, later runs reuse ${out_dir}"
[ "$(dpkg --print-architecture)" = "$arch" ] || die "only ${arch} hosts can build the test image (this host is $(dpkg --print-architecture))"
require_tools

mkdir -p "$cache_root"
exec 9>"${cache_root}/.lock"
log "waiting for the build lock ${cache_root}/.lock"
flock 9
cached && finish # another caller built it while we waited

work="$(mktemp -d "${cache_root}/.build.XXXXXX")"
# --one-file-system: should mmdebstrap die with the host's /proc, /sys or /dev
# still mounted in the tree, never delete through them.
trap 'rm -rf --one-file-system "$work"' EXIT
root="${work}/root"
disk="${work}/disk.raw"
started=$SECONDS

# --- 1. root tree -----------------------------------------------------------
mirror=("$sources")
[ -f "$sources" ] || mirror=(http://deb.debian.org/debian)
log "mmdebstrap ${suite} (${arch}) into ${root}"
# The essential hook runs before the kernel is installed: initramfs-tools must
# see FSTYPE=ext4, else the initrd has no fsck for the root file system.
# shellcheck disable=SC2016 # the hooks' $1 is for mmdebstrap's shell
mmdebstrap --mode=root --variant=minbase --format=directory \
	--architectures="$arch" \
	--include="$(IFS=,; printf '%s' "${packages[*]}")" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--essential-hook='printf "%s\n" "LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1" "LABEL=UEFI /boot/efi vfat umask=0077,nofail 0 1" > "$1/etc/fstab"' \
	--essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && echo FSTYPE=ext4 > "$1/etc/initramfs-tools/conf.d/fstype"' \
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

# --- 3. Unified Kernel Image ----------------------------------------------------
kernels=("$root"/boot/vmlinuz-*)
if [ "${#kernels[@]}" -ne 1 ] || [ ! -f "${kernels[0]}" ]; then
	die "expected one kernel in ${root}/boot, found: ${kernels[*]}"
fi
kver="${kernels[0]##*/vmlinuz-}"
initrd="$root/boot/initrd.img-${kver}"
[ -f "$initrd" ] || die "no initrd for kernel ${kver} at ${initrd}"
cmdline="${work}/cmdline"
printf 'root=PARTUUID=%s ro console=tty0 console=ttyS0,115200n8' "$root_part_guid" >"$cmdline"
osrel="$(readlink -f "$root/etc/os-release")"
case "$osrel" in "$root"/*) ;; *) osrel="$root/usr/lib/os-release" ;; esac

# Sections are laid out after the stub's last section, each aligned to the
# stub's SectionAlignment; .linux goes last because the stub may need room
# past it to decompress the kernel.
section_align=$((16#$(objdump -p "$stub" | awk '$1 == "SectionAlignment" {print $2}')))
next_vma=0
while read -r _idx _name size vma _rest; do
	end=$((16#$vma + 16#$size))
	[ "$end" -gt "$next_vma" ] && next_vma=$end
done < <(objdump -h "$stub" | awk 'NF == 7 && $1 ~ /^[0-9]+$/')
align_up() { echo $((($1 + section_align - 1) / section_align * section_align)); }
objcopy_args=()
for section in osrel:"$osrel" cmdline:"$cmdline" initrd:"$initrd" linux:"${kernels[0]}"; do
	name="${section%%:*}" file="${section#*:}"
	next_vma=$(align_up "$next_vma")
	objcopy_args+=(--add-section ".${name}=${file}" --change-section-vma ".${name}=$(printf '0x%x' "$next_vma")")
	next_vma=$((next_vma + $(stat -Lc %s "$file")))
done
log "building the UKI for kernel ${kver}"
objcopy "${objcopy_args[@]}" "$stub" "${work}/BOOTX64.EFI"

# --- 4. disk --------------------------------------------------------------------
log "partitioning ${disk}"
truncate -s $((disk_sectors * 512)) "$disk"
sgdisk --clear --disk-guid="$disk_guid" \
	--new=15:${esp_first}:${esp_last} --typecode=15:ef00 --change-name=15:UEFI --partition-guid=15:${esp_part_guid} \
	--new=1:${root_first}:${root_last} --typecode=1:8304 --change-name=1:cloudimg-rootfs --partition-guid=1:${root_part_guid} \
	"$disk" >&2

log "making the ESP"
# -s 1: mtools rejects this FAT32 with the default cluster size.
mkfs.vfat -F 32 -s 1 -n UEFI -i "$esp_volume_id" --offset "$esp_first" "$disk" "$esp_kib" >&2
export MTOOLS_SKIP_CHECK=1
esp="${disk}@@$((esp_first * 512))"
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" "${work}/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

log "making the root file system"
mkfs.ext4 -q -F -L cloudimg-rootfs -U "$root_fs_uuid" \
	-E "offset=${root_offset},nodiscard" -d "$root" "$disk" "${root_kib}k" >&2

log "checking"
sgdisk -v "$disk" >&2
e2fsck -fn "${disk}?offset=${root_offset}" >&2

# --- 5. qcow2 -----------------------------------------------------------------
mkdir "${work}/out"
log "converting to qcow2"
qemu-img convert -O qcow2 -c "$disk" "${work}/out/${image_name}"
(cd "${work}/out" && sha256sum "$image_name" >"${image_name}.sha256")

rm -rf "$out_dir" # only an incomplete result can be here: we hold the lock
mv -T "${work}/out" "$out_dir"
log "built ${image} ($(du -h --apparent-size "$image" | cut -f1)) in $((SECONDS - started)) s"
finish
