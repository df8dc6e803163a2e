#!/usr/bin/env bash
# The quick start behind `make example` (which installs the plugin first):
# builds the local Debian test cloud image when IMAGE is not given, builds a
# MAAS image from it with maas-rootfs under stock Packer (QEMU; TCG when KVM
# does not work, a few minutes), and uploads it when MAAS_URL and
# MAAS_API_KEY are set. IMAGE_CHECKSUM goes with IMAGE (default: none).
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PACKER_PLUGIN_PATH="${PACKER_PLUGIN_PATH:-$HOME/.config/packer/plugins}"
"$root_dir/scripts/bootstrap.sh" apt packer
packer="$root_dir/.tools/bin/packer"

image="${IMAGE:-}"
checksum="${IMAGE_CHECKSUM:-none}"
if [ -z "$image" ]; then
	echo "example: no IMAGE given: building the local Debian test cloud image (cached after the first time)" >&2
	image="$("$root_dir/scripts/build-test-image.sh" | tail -n1)"
	checksum="sha256:$(cut -d' ' -f1 "${image}.sha256")"
fi

skip=()
if [ -n "${MAAS_URL:-}" ] && [ -n "${MAAS_API_KEY:-}" ]; then
	echo "example: MAAS_URL and MAAS_API_KEY are set: the image will be uploaded to $MAAS_URL" >&2
else
	echo "example: MAAS_URL and MAAS_API_KEY are not both set: building the MAAS image file only, no upload" >&2
	skip=(-except=upload)
fi

cd "$root_dir/example"
"$packer" init debian-local.pkr.hcl
"$packer" build -force "${skip[@]}" -var "image=$image" -var "image_checksum=$checksum" debian-local.pkr.hcl
echo "example: MAAS image file: $root_dir/example/output/debian-bookworm.tar.gz" >&2
