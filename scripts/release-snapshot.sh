#!/usr/bin/env bash
# Builds a release snapshot with the pinned goreleaser (`make
# release-snapshot`): every target of .goreleaser.yml, unsigned and
# unpublished, as version <version/version.go>-dev into dist/. Then checks
# what Packer relies on: one zip per target named
# packer-plugin-maas_v<version>_<api>_<os>_<arch>.zip holding only the binary
# of that name, a SHA256SUMS file listing exactly those zips with the right
# sums, and a host binary whose `describe` reports that version and API and
# that stock Packer takes as installed.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"
"$root_dir/scripts/bootstrap.sh" goreleaser
goreleaser="$root_dir/.tools/bin/goreleaser"

project=packer-plugin-maas
targets=(linux_amd64 linux_arm64 darwin_amd64 darwin_arm64)

fail() { printf 'release-snapshot: %s\n' "$*" >&2; exit 1; }

# The plugin API version is the SDK's, as the plugin reports it.
api_version="$(go run . describe | sed -n 's/.*"api_version":"\([^"]*\)".*/\1/p')"
[ -n "$api_version" ] || fail "go run . describe reported no api_version"
export API_VERSION="$api_version"

base_version="$("$root_dir/scripts/release-version.sh")"
version="${base_version}-dev"

# goreleaser asks git for the remote's URL; in a checkout without a remote
# that fails and a snapshot silently falls back to placeholder git state
# (commit "none", no commit timestamp for the binaries). Name the release
# repository through git's environment config instead.
if [ -z "$(git remote)" ] && [ -z "${GIT_CONFIG_COUNT:-}" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url
	export GIT_CONFIG_VALUE_0="https://github.com/c34478be/${project}.git"
fi

start=$(date +%s)
PLUGIN_VERSION="$base_version" "$goreleaser" release --snapshot --clean --skip=sign,publish,announce
echo "release-snapshot: goreleaser took $(($(date +%s) - start)) s for ${#targets[@]} targets" >&2

dist="$root_dir/dist"
head="$(git rev-parse HEAD)"
grep -q "\"commit\":\"$head\"" "$dist/metadata.json" ||
	fail "goreleaser did not build from commit $head (dist/metadata.json: $(cat "$dist/metadata.json"))"
sums="$dist/${project}_v${version}_SHA256SUMS"
[ -f "$sums" ] || fail "no checksum file $sums"

# zip_members ZIP: one line per member, "<name> <os>_<arch>", the platform
# read from the member's ELF or Mach-O header ("unknown" for anything else),
# so a zip holding another target's binary under the right name fails too.
zip_members() {
	python3 - "$1" <<'PY'
import struct, sys, zipfile
elf = {0x3E: "amd64", 0xB7: "arm64"}
macho = {0x01000007: "amd64", 0x0100000C: "arm64"}
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        with z.open(info) as f:
            head = f.read(20)
        platform = "unknown"
        # Go marks linux ELF binaries with OS ABI 0 (System V).
        if head[:4] == b"\x7fELF" and len(head) >= 20 and head[7] == 0:
            platform = "linux_" + elf.get(struct.unpack_from("<H", head, 18)[0], "unknown")
        elif head[:4] == b"\xcf\xfa\xed\xfe":
            platform = "darwin_" + macho.get(struct.unpack_from("<I", head, 4)[0], "unknown")
        print(info.filename, platform)
PY
}

expected=()
for target in "${targets[@]}"; do
	name="${project}_v${version}_${api_version}_${target}"
	zip="$dist/$name.zip"
	[ -f "$zip" ] || fail "missing archive $zip"
	members="$(zip_members "$zip")"
	[ "$members" = "$name $target" ] || fail "$zip holds [$members], want only $name, built for $target"
	expected+=("$name.zip")
done

# Packer splits each line into exactly two fields: hex sum, file name.
bad_lines="$(grep -Evn '^[0-9a-f]{64}  [^[:space:]]+$' "$sums" || true)"
[ -z "$bad_lines" ] || fail "$sums has lines Packer cannot parse: $bad_lines"
listed="$(awk '{print $2}' "$sums" | sort)"
want="$(printf '%s\n' "${expected[@]}" | sort)"
[ "$listed" = "$want" ] || fail "$sums lists [$listed], want [$want]"
(cd "$dist" && sha256sum --quiet -c "$(basename "$sums")") || fail "a sum in $sums does not match its archive"

# The host's zip, unpacked the way `packer init` installs it: stock Packer
# must list the binary as an installed plugin, and its `describe` must agree
# with the name (Packer 1.10 and later ignore a binary whose name and
# describe differ).
host="$(go env GOOS)_$(go env GOARCH)"
name="${project}_v${version}_${api_version}_${host}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
plugin_dir="$work/plugins/github.com/c34478be/maas"
mkdir -p "$plugin_dir"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$dist/$name.zip" "$plugin_dir"
binary="$plugin_dir/$name"
chmod +x "$binary"
sha256sum "$binary" | cut -d' ' -f1 | tr -d '\n' >"${binary}_SHA256SUM"
describe="$("$binary" describe)"
case "$describe" in
*"\"version\":\"$version\""*"\"api_version\":\"$api_version\""*) ;;
*) fail "the $host binary describes itself as $describe, want version $version and api_version $api_version" ;;
esac
"$root_dir/scripts/bootstrap.sh" packer
# From $work: Packer 1.9 crashes on a misnamed plugin and writes crash.log.
installed="$(cd "$work" && PACKER_PLUGIN_PATH="$work/plugins" "$root_dir/.tools/bin/packer" plugins installed)" ||
	fail "stock Packer could not list the plugins in $work/plugins (is $name named as Packer expects?)"
[ "$installed" = "$binary" ] || fail "stock Packer lists [$installed] as installed from $work/plugins, want $binary"

echo "release-snapshot: ${#targets[@]} archives and $(basename "$sums") in dist/ check out (version $version)" >&2
