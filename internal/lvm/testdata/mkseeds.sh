#!/bin/sh
# Makes the fuzz seeds from real lvm2 output (run as root from this
# directory; needs lvm2, util-linux and gdisk): the first 32 KiB of two PVs
# (label, PV header, metadata area header and the text after several
# updates) and the text metadata of their group, with linear LVs of one and
# two segments, an LV across both PVs and a striped one.
set -eu
work=$(mktemp -d)
loops=
cleanup() {
	for l in $loops; do losetup -d "$l"; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/etc"
cat >"$work/etc/lvm.conf" <<'CONF'
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 }
global { activation = 0 }
backup { backup = 0 archive = 0 }
CONF
export LVM_SYSTEM_DIR="$work/etc" LVM_SUPPRESS_FD_WARNINGS=1
img=$work/disk.img
truncate -s 20M "$img"
a=$(losetup -f --show -o 1048576 --sizelimit 8388608 "$img")
loops="$a"
b=$(losetup -f --show -o 9437184 --sizelimit 8388608 "$img")
loops="$loops $b"
lvm() { command "$@" --devices "$a,$b" >/dev/null 2>&1; }
lvm pvcreate "$a"
lvm pvcreate --pvmetadatacopies 2 "$b"
lvm vgcreate -s 1M my-vg "$a" "$b"
lvm lvcreate -an -Zn -L 2M -n root my-vg "$a"
lvm lvcreate -an -Zn -L 1M -n home my-vg "$a"
lvm lvextend -L +1M my-vg/root "$a"
lvm lvcreate -an -Zn -L 5M -n spread my-vg
lvm lvcreate -an -Zn -i 2 -L 2M -n fast my-vg
dd if="$img" of=seed-pv1.bin bs=1024 skip=1024 count=32 status=none
dd if="$img" of=seed-pv2.bin bs=1024 skip=9216 count=32 status=none
vgcfgbackup --devices "$a,$b" -f seed-metadata.txt my-vg >/dev/null 2>&1
gzip -9 -n -f seed-pv1.bin seed-pv2.bin
