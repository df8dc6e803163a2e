#!/bin/sh
# Makes the seeds of the fuzz targets (run as root from this directory;
# needs xfsprogs, attr and acl, and a kernel that mounts XFS v5): small
# filesystems of 1 KiB blocks filled through the kernel with one of each
# directory, extent and xattr form, and a v4 one from a protofile, packed
# to their non-zero sectors (testdata/pack.go) and gzipped.
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"

fill() {
	cd "$1"
	mkdir sf block leaf node
	for i in 1 2; do : > "sf/$i"; done
	for i in $(seq 1 30); do : > "block/entry-$i"; done
	printf small > small
	for i in $(seq 1 200); do ln small "leaf/entry-with-a-long-name-$i"; done
	for i in $(seq 1 800); do ln small "node/entry-with-a-long-name-$i"; done
	for i in $(seq 0 40); do printf 'chunk' | dd of=btree bs=1 seek=$((i * 2048)) conv=notrunc 2>/dev/null; done
	xfs_io -f -c "falloc 0 64k" -c "pwrite 16k 4k" unwritten >/dev/null
	ln small hardlink
	ln -s small short
	ln -s "$(printf '%0600d' 0)" long
	mknod dev c 4 64
	mkfifo fifo
	setfattr -n user.note -v hello small
	setfattr -n security.selinux -v "system_u:object_r:etc_t:s0" small
	: > leafattrs
	for i in 1 2 3 4 5 6; do setfattr -n "user.attr-$i" -v "$(printf '%0100d' "$i")" leafattrs; done
	: > nodeattrs
	for i in $(seq 1 60); do setfattr -n "user.attribute-$i" -v "$(printf '%040d' "$i")" nodeattrs; done
	setfattr -n user.remote -v "$(printf '%02000d' 7)" leafattrs
	setfacl -m u:1234:r,g:55:rw small
	setfacl -d -m u:1:rwx sf
	cd "$here"
}

seed() { # name, mkfs options
	img=$work/$1.img
	shift
	truncate -s 300M "$img"
	mkfs.xfs -q -f -K -b size=1024 -m uuid=11111111-2222-3333-4444-555555555555 "$@" "$img"
	mount -o loop "$img" "$work/mnt"
	fill "$work/mnt"
	umount "$work/mnt"
	go run pack.go "$img" | gzip -9 -n > "$here/seed-$(basename "$img" .img).gz"
}
seed v5 -d agcount=2
seed v5-reflink-bigtime -d agcount=2 -m reflink=1,bigtime=1 -i nrext64=1 -n size=4096

# v4: this kernel does not mount it, so it is made from a protofile.
v4=$work/v4.img
printf 'small' > "$work/small"
{
	printf '/dev/null\n0 0\nd--755 0 0\n'
	printf 'small ---644 1000 1000 %s\n' "$work/small"
	printf 'short l--777 0 0 small\n'
	printf 'long l--777 0 0 %s\n' "$(printf '%01000d' 0)"
	printf 'dev c--666 0 0 4 64\nfifo p--644 0 0\n'
	for d in 2 30 150 600; do
		printf 'd%s d--755 0 0\n' "$d"
		for i in $(seq 1 "$d"); do printf 'entry-with-a-long-name-%s ---644 0 0 %s\n' "$i" "$work/small"; done
		printf '$\n'
	done
	printf '$\n'
} > "$work/proto"
truncate -s 300M "$v4"
mkfs.xfs -q -f -K -b size=1024 -d agcount=2 -m crc=0,finobt=0,reflink=0,bigtime=0,inobtcount=0 -i sparse=0 \
	-m uuid=11111111-2222-3333-4444-555555555555 -p "$work/proto" "$v4" 2>/dev/null
go run pack.go "$v4" | gzip -9 -n > "$here/seed-v4.gz"
