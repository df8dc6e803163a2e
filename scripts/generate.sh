#!/usr/bin/env bash
# Regenerates the HCL2 specs and docs partials (go generate), then renders
# docs/ into .web-docs/.
#
# packer-sdc struct-markdown finds the project root by looking for a parent
# directory named packer-plugin-*, and searches forever when there is none
# (as in a checkout under any other name). So generation runs through a
# symlink with that name.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
link_dir="$(mktemp -d)"
trap 'rm -rf "$link_dir"' EXIT
ln -s "$root_dir" "$link_dir/packer-plugin-maas"

cd "$link_dir/packer-plugin-maas"
PWD="$link_dir/packer-plugin-maas" go generate ./...
"$root_dir/scripts/render-docs.sh"
