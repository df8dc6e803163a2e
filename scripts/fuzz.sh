#!/usr/bin/env bash
# Runs every fuzz target in the module briefly: the parsers of untrusted disk
# images must not panic, hang or blow up.
#
# Each target gets a budget of executions, not of seconds. A -fuzztime
# duration races Go's fuzz coordinator at the deadline and can fail a target
# that found nothing with a bare "context deadline exceeded" (go.dev/issue/75804,
# fixed in Go 1.27); a count has no deadline. The counts below are what each
# target runs in about 10 s on two quiet cores. `scripts/fuzz.sh 5m` (or
# `make fuzz FUZZ_BUDGET=5m`) gives every target the one budget instead.
set -euo pipefail
# The seeds made with host tools (mkfs, qemu-img) belong to the acceptance
# tier; fuzzing always wants them, and fails when a tool is missing.
export PACKER_ACC="${PACKER_ACC:-1}"

budget_override="${1:-}"
default_budget=20000x
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"

budget_for() {
	case "$1" in
	FuzzParseResults | FuzzParseProbe) echo 200000x ;;
	FuzzOpen) echo 150000x ;;
	FuzzListVolumes | FuzzParse) echo 100000x ;;
	FuzzWalk | FuzzConsoleTail) echo 40000x ;;
	FuzzWriteTar) echo 25000x ;;
	FuzzFAT) echo 60000x ;;
	FuzzOpenQcow2) echo 8000x ;;
	FuzzQcow2ClusterMap) echo 60000x ;;
	FuzzReadPhysicalVolume) echo 80000x ;;
	FuzzParseMetadata) echo 150000x ;;
	FuzzXFSOpen) echo 4000x ;;
	FuzzXFSWalk) echo 2000x ;;
	FuzzXFSInode) echo 60000x ;;
	FuzzXFSDirBlock | FuzzXFSXattrBlock) echo 100000x ;;
	FuzzParseDpkgStatus) echo 8000x ;;
	FuzzParseApkInstalled | FuzzCompareVersions) echo 60000x ;;
	FuzzReadRPMDatabase) echo 4000x ;;
	FuzzDecodeRPMHeader) echo 200000x ;;
	*)
		echo "fuzz: $1 has no budget in scripts/fuzz.sh; using $default_budget" >&2
		echo "$default_budget"
		;;
	esac
}

count=0
for pkg in $(go list ./internal/...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		budget="${budget_override:-$(budget_for "$target")}"
		echo "fuzz: $pkg $target ($budget)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" -fuzzminimizetime 10x "$pkg"
		count=$((count + 1))
	done
done
echo "fuzz: ran $count targets"
