#!/bin/sh
# Makes the small seed images of the fuzz targets (run as root from this
# directory; needs e2fsprogs, attr and acl). Each covers other structures:
# extents with a depth-1 tree and an htree directory, inline data, and an
# ext2 block map with an xattr block.
set -eu
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cd "$tree"
mkdir -p dir/sub big
printf x > one
head -c 3000 /dev/zero | tr '\0' 'a' > dir/file
for i in 0 1 2 3 4 5; do printf 'chunk' | dd of=sparse bs=1 seek=$((i * 4096)) conv=notrunc 2>/dev/null; done
for i in $(seq 1 60); do : > "big/entry-with-a-longer-name-$i"; done
ln dir/file dir/sub/hardlink
ln -s one short
ln -s "$(printf '%080d' 0)" long
mknod dev c 4 64
mkfifo fifo
setfattr -n user.note -v hello one
setfattr -n security.selinux -v "system_u:object_r:etc_t:s0" dir/file
setfacl -m u:1234:r,g:55:rw dir/file
setfacl -d -m u:1:rwx dir
cd - >/dev/null
seed() { # name, mkfs options
	img=$1.img
	shift
	rm -f "$img"
	mkfs.ext4 -q -F -b 1024 -N 96 -O ^has_journal -U 11111111-2222-3333-4444-555555555555 \
		-E nodiscard,root_owner=0:0 -d "$tree" "$@" "$img" 256K
	e2fsck -fyD "$img" >/dev/null || [ $? -eq 1 ]
	gzip -9 -n -f "$img"
}
seed seed-ext4 -t ext4
seed seed-inline -t ext4 -O inline_data
seed seed-ext2 -t ext2
