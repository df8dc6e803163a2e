#!/bin/sh
# Makes kernel.img.gz, an ext4 image written by the Linux kernel rather than
# by mkfs.ext4 -d: kernel-built htree and inline directories (one spilling
# into system.data), unwritten extents from fallocate, a value in an EA
# inode. It needs root and a loop device, so it is run once by hand; the
# tests only read the result and check the facts written here
# (TestKernelImage).
set -eu
out=$(cd "$(dirname "$0")" && pwd)/kernel.img.gz
img=$(mktemp)
mnt=$(mktemp -d)
trap 'umount "$mnt" 2>/dev/null || true; rm -rf "$img" "$mnt"' EXIT
truncate -s 8M "$img"
mkfs.ext4 -q -F -b 4096 -O inline_data,ea_inode -U 99999999-8888-7777-6666-555555555555 -E nodiscard "$img"
mount -o loop "$img" "$mnt"
cd "$mnt"
mkdir inline
touch inline/a inline/b inline/c inline/dddddddddddd inline/eeeeeeeeeeee
mkdir hashed
for i in $(seq 1 1000); do : > "hashed/file-with-a-long-name-$i"; done
fallocate -l 1M unwritten
printf 'abcdefgh%.0s' $(seq 2048) > mixed
fallocate -o 16384 -l 65536 mixed
printf 'XY%.0s' $(seq 4096) | dd of=mixed bs=4096 seek=30 conv=notrunc 2>/dev/null
printf data > tiny
setfattr -n user.big -v "$(printf 'z%.0s' $(seq 6000))" tiny
printf '0123456789%.0s' $(seq 10) > hundred
setfacl -m u:5:rw hundred
ln -s "$(printf 'L%.0s' $(seq 100))" longlink
mknod cdev c 200 70000
cd /
umount "$mnt"
gzip -9 -n -c "$img" > "$out"
