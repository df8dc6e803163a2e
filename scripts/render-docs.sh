#!/usr/bin/env bash
# Renders docs/ (with the partials `go generate` wrote into docs-partials/)
# into .web-docs/, the layout the Packer integrations registry reads:
#   .web-docs/README.md                          from docs/README.md
#   .web-docs/components/<kind>/<name>/README.md from docs/<kind>s/<name>.mdx
# Front matter and each page's top heading are dropped; the registry takes
# titles from metadata.hcl.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc renderdocs \
	-src docs -partials docs-partials -dst "$rendered" >/dev/null

# strip_front_matter PAGE prints PAGE without its front matter and without
# its top heading (`# MAAS Rootfs Builder`) and the blank lines around it:
# the registry puts the title from metadata.hcl above each page itself.
strip_front_matter() {
	awk '
		NR == 1 && /^---$/ { infm = 1; next }
		infm { if (/^---$/) infm = 0; next }
		!body && /^[[:space:]]*$/ { next }
		!body && !heading && /^# / { heading = 1; next }
		{ body = 1; print }
	' "$1"
}

find .web-docs -mindepth 1 ! -name metadata.hcl ! -path '.web-docs/scripts*' -delete 2>/dev/null || true
mkdir -p .web-docs/components
strip_front_matter "$rendered/README.md" > .web-docs/README.md

for kind_dir in builders provisioners post-processors datasources; do
	[ -d "$rendered/$kind_dir" ] || continue
	kind="${kind_dir%s}"
	[ "$kind" = datasource ] && kind=data-source
	for page in "$rendered/$kind_dir"/*.mdx; do
		[ -e "$page" ] || continue
		name="$(basename "$page" .mdx)"
		mkdir -p ".web-docs/components/$kind/$name"
		strip_front_matter "$page" > ".web-docs/components/$kind/$name/README.md"
	done
done
