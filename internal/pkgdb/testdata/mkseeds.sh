#!/usr/bin/env bash
# Writes the rpmdb fuzz seeds: a sqlite rpmdb made by rpm itself holding one
# tiny package built by rpmbuild, and the Berkeley DB hash Packages database
# db5.3_load writes from that package's header, keyed as rpm's bdb backend
# keys it (TestRPMBerkeleyDB does the same). Needs rpm, rpmbuild, sqlite3
# and db5.3-util.
set -euo pipefail
out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/seed.spec" <<'SPEC'
Name: seed
Version: 1.0
Release: 1
Epoch: 1
Summary: fuzz seed
License: MIT
Vendor: Seed Vendor
BuildArch: noarch
%description
seed
%files
SPEC
rpmbuild -bb --quiet --define "_topdir $work/top" "$work/seed.spec"
db=(--define "_db_backend sqlite" --dbpath "$work/db")
rpm "${db[@]}" --initdb
rpm "${db[@]}" -i --justdb --nodeps "$work"/top/RPMS/noarch/seed-1.0-1.noarch.rpm 2>/dev/null
sqlite3 "$work/db/rpmdb.sqlite" "VACUUM INTO '$out/rpmdb-seed.sqlite'"
{
	printf 'VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=512\nHEADER=END\n'
	sqlite3 "$work/db/rpmdb.sqlite" "select printf('%02x%02x%02x%02x', hnum & 255, (hnum >> 8) & 255, (hnum >> 16) & 255, hnum >> 24), lower(hex(blob)) from Packages" |
		while IFS='|' read -r key blob; do printf ' %s\n %s\n' "$key" "$blob"; done
	printf 'DATA=END\n'
} >"$work/dump"
rm -f "$out/rpmdb-seed.bdb"
db5.3_load -f "$work/dump" "$out/rpmdb-seed.bdb"
