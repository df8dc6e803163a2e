#!/usr/bin/env bash
# Installs what building and testing the plugin needs, idempotently:
#   - Debian packages (when root; otherwise names the missing ones and fails)
#   - stock Packer 1.9.4, built from the Go module proxy, when no Packer >= 1.9
#     is on PATH
#   - golangci-lint at a pinned version
# Tools land in .tools/bin (git-ignored). Usage: scripts/bootstrap.sh [apt|packer|lint|all]...
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="${root_dir}/.tools/bin"
packer_version="v1.9.4"
golangci_lint_version="v2.6.2"

# Debian packages the tests and the quick start use. The plugin itself needs
# only qemu-system-x86 (or -arm), qemu-utils and ovmf at run time.
apt_packages=(
	qemu-system-x86 qemu-utils ovmf
	mmdebstrap e2fsprogs dosfstools mtools gdisk fdisk xfsprogs
	systemd-boot-efi binutils
	tar gzip pigz attr acl libcap2-bin
	util-linux openssh-client
)

log() { printf 'bootstrap: %s\n' "$*" >&2; }

missing_packages() {
	local p
	for p in "${apt_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
	done
}

install_apt() {
	local missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "missing Debian packages: ${missing[*]}"
		log "install them with: sudo apt-get install -y ${missing[*]}"
		exit 1
	fi
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# packer_ok PATH: true when PATH is a Packer of version 1.9 or newer.
packer_ok() {
	local v
	v="$("$1" version 2>/dev/null | head -n1 | sed -n 's/^Packer v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
	[ -n "$v" ] || return 1
	set -- $v
	[ "$1" -gt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -ge 9 ]; }
}

install_packer() {
	if [ -x "${tools_bin}/packer" ] && packer_ok "${tools_bin}/packer"; then
		return
	fi
	local found
	if found="$(command -v packer)" && packer_ok "$found"; then
		mkdir -p "$tools_bin"
		ln -sf "$found" "${tools_bin}/packer"
		return
	fi
	log "building stock Packer ${packer_version} from the Go module proxy (about 2 minutes)"
	local work
	work="$(mktemp -d)"
	trap 'rm -rf "$work"' RETURN
	(
		cd "$work"
		go mod init packer-build >/dev/null 2>&1
		GOFLAGS=-mod=mod go get "github.com/hashicorp/packer@${packer_version}" >/dev/null 2>&1
		go build -o "${work}/packer" github.com/hashicorp/packer
	)
	mkdir -p "$tools_bin"
	mv "${work}/packer" "${tools_bin}/packer"
}

install_lint() {
	local stamp="${tools_bin}/.golangci-lint-${golangci_lint_version}"
	if [ -x "${tools_bin}/golangci-lint" ] && [ -e "$stamp" ]; then
		return
	fi
	log "building golangci-lint ${golangci_lint_version}"
	mkdir -p "$tools_bin"
	GOBIN="$tools_bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${golangci_lint_version}"
	rm -f "${tools_bin}"/.golangci-lint-*
	touch "$stamp"
}

main() {
	local what=("$@")
	[ "${#what[@]}" -gt 0 ] || what=(all)
	for w in "${what[@]}"; do
		case "$w" in
		apt) install_apt ;;
		packer) install_packer ;;
		lint) install_lint ;;
		all) install_apt; install_packer; install_lint ;;
		*) log "unknown part '$w' (want apt, packer, lint or all)"; exit 2 ;;
		esac
	done
}

main "$@"
