#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each (default 10s):
# the parsers of untrusted disk images must not panic, hang or blow up.
set -euo pipefail

fuzz_time="${1:-10s}"
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"

count=0
for pkg in $(go list ./internal/...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($fuzz_time)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzz_time" -fuzzminimizetime 10x "$pkg"
		count=$((count + 1))
	done
done
echo "fuzz: ran $count targets"
