#!/usr/bin/env bash
# Prints the release version, version/version.go's Version ("0.1.0").
#
# With a git tag (goreleaser's before hook passes it for a real release,
# nothing for a snapshot) it also checks that the tag, version.go and
# CHANGELOG.md agree: the tag is v<Version>, and the changelog has a dated
# "## <Version>" section. goreleaser stamps the binaries with the tag's
# version, so without this a release could ship while `make install` from
# its tag and the changelog say another.
#
# RELEASE_ROOT (default: this checkout) is where version/version.go and
# CHANGELOG.md are read; the tests point it elsewhere.
set -euo pipefail

root="${RELEASE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
tag="${1:-}"

fail() { printf 'release-version: %s\n' "$*" >&2; exit 1; }

version="$(sed -n 's/^[[:space:]]*Version = "\([0-9][0-9.]*\)"$/\1/p' "$root/version/version.go")"
[ -n "$version" ] || fail "no Version = \"X.Y.Z\" line in version/version.go"

if [ -n "$tag" ]; then
	[ "$tag" = "v$version" ] ||
		fail "tag $tag does not match version/version.go (Version = \"$version\"): tag v$version, or set Version = \"${tag#v}\" and commit before tagging"
	heading="$(grep -E "^## ${version//./\\.}( |$)" "$root/CHANGELOG.md" || true)"
	[ -n "$heading" ] || fail "CHANGELOG.md has no \"## $version\" section for tag $tag"
	case "$heading" in
	*unreleased*) fail "CHANGELOG.md still says \"$heading\": give $version its release date before tagging" ;;
	esac
fi
echo "$version"
