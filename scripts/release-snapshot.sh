#!/usr/bin/env bash
# Builds a release snapshot with the pinned goreleaser (`make
# release-snapshot`): every target of .goreleaser.yml, unsigned and
# unpublished, as version <version/version.go>-dev into dist/. Then checks
# what Packer relies on: one zip per target named
# packer-plugin-maas_v<version>_x5.0_<os>_<arch>.zip holding only the binary
# of that name, a SHA256SUMS file listing exactly those zips with the right
# sums, and a host binary whose `describe` reports that version and API.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
"$root_dir/scripts/bootstrap.sh" goreleaser
goreleaser="$root_dir/.tools/bin/goreleaser"

project=packer-plugin-maas
api_version=x5.0
targets=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64)

fail() { printf 'release-snapshot: %s\n' "$*" >&2; exit 1; }

base_version="$(sed -n 's/^[[:space:]]*Version = "\([0-9][0-9.]*\)"$/\1/p' version/version.go)"
[ -n "$base_version" ] || fail "no Version = \"X.Y.Z\" line in version/version.go"
version="${base_version}-dev"

start=$(date +%s)
PLUGIN_VERSION="$base_version" "$goreleaser" release --snapshot --clean --skip=sign,publish,announce
echo "release-snapshot: goreleaser took $(($(date +%s) - start)) s for ${#targets[@]} targets" >&2

dist="$root_dir/dist"
sums="$dist/${project}_v${version}_SHA256SUMS"
[ -f "$sums" ] || fail "no checksum file $sums"

expected=()
for target in "${targets[@]}"; do
	name="${project}_v${version}_${api_version}_${target}"
	zip="$dist/$name.zip"
	[ -f "$zip" ] || fail "missing archive $zip"
	members="$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$zip")"
	[ "$members" = "$name" ] || fail "$zip holds [$members], want only $name"
	expected+=("$name.zip")
done

listed="$(awk '{print $2}' "$sums" | sort)"
want="$(printf '%s\n' "${expected[@]}" | sort)"
[ "$listed" = "$want" ] || fail "$sums lists [$listed], want [$want]"
(cd "$dist" && sha256sum --quiet -c "$(basename "$sums")") || fail "a sum in $sums does not match its archive"

host="$(go env GOOS)_$(go env GOARCH)"
bin="$dist/${project}_v${version}_${api_version}_${host}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$bin.zip" "$work"
chmod +x "$work/$(basename "$bin")"
describe="$("$work/$(basename "$bin")" describe)"
case "$describe" in
*"\"version\":\"$version\""*"\"api_version\":\"$api_version\""*) ;;
*) fail "the $host binary describes itself as $describe, want version $version and api_version $api_version" ;;
esac

echo "release-snapshot: ${#targets[@]} archives and $(basename "$sums") in dist/ check out (version $version)" >&2
