#!/usr/bin/env bash
# Runs shellcheck over every shell file the repository tracks: *.sh (the
# scripts, the example's, the guest scripts embedded in Go) and any other
# file starting with a sh or bash shebang (.ci/run). Shell that Go renders
# from a template is checked by the unit tests that render it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v shellcheck >/dev/null || {
	echo "shellcheck is missing: apt-get install shellcheck" >&2
	exit 1
}

files=()
while IFS= read -r -d '' f; do
	case "$f" in
	*.sh) files+=("$f") ;;
	*)
		if head -n1 -- "$f" 2>/dev/null | grep -Eq '^#!(/usr/bin/env |/bin/|/usr/bin/)(ba|da)?sh( |$)'; then
			files+=("$f")
		fi
		;;
	esac
done < <(git ls-files -z)

echo "shellcheck: ${#files[@]} files"
shellcheck -- "${files[@]}"
