#!/usr/bin/env bash
# The packer-maas export chain, as the baseline for BenchmarkExportTestImage:
#
#   qemu-nbd --read-only (qcow2 over a unix socket)
#   -> nbdkit's partition filter -> nbdfuse (the root partition as a file)
#   -> fuse2fs -o ro (the ext4 filesystem)
#   -> GNU tar --xattrs --acls --selinux -> pigz -9
#
# No nbd kernel module is needed: qemu-nbd serves a unix socket and nbdfuse
# is the client. It needs root (fuse2fs must read every file) and /dev/fuse.
#
# usage: bench-packer-maas-chain.sh IMAGE PARTITION OUTPUT
# Debian packages: qemu-utils nbdkit libnbd-bin fuse2fs tar pigz
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 IMAGE PARTITION OUTPUT" >&2
	exit 2
fi
image=$1 partition=$2 output=$3

for tool in qemu-nbd nbdkit nbdfuse fuse2fs tar pigz; do
	command -v "$tool" >/dev/null || {
		echo "$0: $tool is missing: apt-get install qemu-utils nbdkit libnbd-bin fuse2fs tar pigz" >&2
		exit 1
	}
done

work=$(mktemp -d)
nbd_pid=
cleanup() {
	mountpoint -q "$work/root" && umount "$work/root"
	mountpoint -q "$work/nbd" && umount "$work/nbd"
	[ -n "$nbd_pid" ] && kill "$nbd_pid" 2>/dev/null && wait "$nbd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/nbd" "$work/root"

# wait_for runs "$@" until it succeeds, for at most 30 s.
wait_for() {
	for _ in $(seq 300); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$0: timed out waiting for: $*" >&2
	return 1
}

qemu-nbd --read-only --persistent --format=qcow2 --socket="$work/qemu.sock" "$image" &
nbd_pid=$!
wait_for test -S "$work/qemu.sock"

nbdfuse --readonly "$work/nbd" --command \
	nbdkit -s --exit-with-parent --filter=partition nbd socket="$work/qemu.sock" partition="$partition" &
wait_for test -s "$work/nbd/nbd"

fuse2fs -o ro,allow_other "$work/nbd/nbd" "$work/root"
wait_for mountpoint -q "$work/root"

tar --xattrs --acls --selinux --numeric-owner -C "$work/root" -cf - . | pigz -9 >"$output"
