#!/usr/bin/env bash
# Installs what building and testing the plugin needs, idempotently:
#   - Debian packages (when root; otherwise names the missing ones and fails)
#   - stock Packer 1.9.4, built from the Go module proxy, when no Packer 1.9
#     is on PATH (.tools/bin/packer: the whole e2e suite; it bundles the qemu
#     builder), and Packer 1.14.3, the newest the proxy serves, always built
#     (.tools/bin/packer-1.14: the e2e subset that runs under current Packer)
#   - golangci-lint and actionlint (the GitHub workflows' linter) at pinned
#     versions
#   - goreleaser at a pinned version (only when asked: `goreleaser`)
#   - what building arm64 test images on an x86-64 host needs (only when
#     asked: `arm64`; root only): arm64 binaries run through binfmt_misc and
#     qemu-user-static, and Debian's arm64 packages install (the UKI stub)
# Tools are built once per machine into ${PACKER_MAAS_CACHE:-~/.cache/packer-plugin-maas}/tools
# and linked from .tools/bin (git-ignored), so fresh clones reuse them.
# Usage: scripts/bootstrap.sh [apt|packer|lint|goreleaser|arm64|all]...
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="${root_dir}/.tools/bin"
cache_bin="${PACKER_MAAS_CACHE:-${HOME}/.cache/packer-plugin-maas}/tools"
packer_version="v1.9.4"
packer_current_version="v1.14.3"
golangci_lint_version="v2.6.2"
actionlint_version="v1.7.12"
goreleaser_version="v2.12.0"

# Debian packages the tests and the quick start use. The plugin itself needs
# only qemu-system-x86 (or -arm), qemu-utils and ovmf at run time.
apt_packages=(
	qemu-system-x86 qemu-utils ovmf qemu-system-arm qemu-efi-aarch64
	mmdebstrap e2fsprogs dosfstools mtools gdisk fdisk xfsprogs btrfs-progs
	systemd-boot-efi binutils
	tar gzip pigz attr acl libcap2-bin
	util-linux openssh-client
	python3 dash shellcheck rpm xorriso genisoimage
	nbdkit libnbd-bin fuse2fs lvm2 db5.3-util sqlite3 dpkg python3-jsonschema
)

# The arm64 part: host packages that run arm64 binaries here (arch-test is
# how mmdebstrap tells whether they run) and edit arm64 PE files (the host's
# objcopy knows only x86 ones: the UKI needs aarch64-linux-gnu-objcopy), and
# arm64 packages the test-image recipe takes files from (systemd-boot-efi is
# Multi-Arch: same, so its arm64 stub installs beside the amd64 one).
arm64_host_packages=(qemu-user-static binfmt-support arch-test binutils-aarch64-linux-gnu)
arm64_foreign_packages=(systemd-boot-efi:arm64)
binfmt_dir=/proc/sys/fs/binfmt_misc

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

# packer_1_9 PATH: true when PATH is a Packer 1.9, the last release that
# bundles the qemu builder the whole e2e suite uses (GitHub's runners, for
# one, have a newer Packer on PATH, which would not do).
packer_1_9() {
	"$1" version 2>/dev/null | head -n1 | grep -q '^Packer v1\.9\.'
}

install_packer() {
	if [ -x "${tools_bin}/packer" ] && packer_1_9 "${tools_bin}/packer"; then
		return
	fi
	mkdir -p "$tools_bin"
	local found
	if found="$(command -v packer)" && packer_1_9 "$found"; then
		ln -sf "$found" "${tools_bin}/packer"
		return
	fi
	build_packer "$packer_version"
	ln -sf "${cache_bin}/packer-${packer_version}" "${tools_bin}/packer"
}

# install_packer_current links the pinned current Packer as
# .tools/bin/packer-<major.minor>, whatever Packer is on PATH: the e2e
# subset must run this exact version.
install_packer_current() {
	build_packer "$packer_current_version"
	local minor="${packer_current_version#v}"
	minor="${minor%.*}"
	mkdir -p "$tools_bin"
	ln -sf "${cache_bin}/packer-${packer_current_version}" "${tools_bin}/packer-${minor}"
}

# build_packer VERSION builds stock Packer from the Go module proxy into the
# cache as packer-VERSION, once. Packer 1.10 and later need the go-cty fork
# their own go.mod replaces (a dependency's replace does not apply here).
build_packer() {
	local version="$1" cached="${cache_bin}/packer-$1"
	[ -x "$cached" ] && return
	log "building stock Packer ${version} from the Go module proxy (2-4 minutes)"
	local work
	work="$(mktemp -d)"
	(
		cd "$work"
		go mod init packer-build >/dev/null 2>&1
		case "$version" in
		v1.9.*) ;;
		*) go mod edit -replace github.com/zclconf/go-cty=github.com/nywilken/go-cty@v1.13.3 ;;
		esac
		GOFLAGS=-mod=mod go get "github.com/hashicorp/packer@${version}" >/dev/null 2>&1
		go build -o "${work}/packer" github.com/hashicorp/packer
	) || { rm -rf "$work"; log "building Packer ${version} failed"; exit 1; }
	mkdir -p "$cache_bin"
	# Copied under a temporary name in the cache's file system, then renamed,
	# so an interrupted copy leaves no executable that passes the -x test.
	cp "${work}/packer" "${cached}.tmp.$$"
	mv "${cached}.tmp.$$" "$cached"
	rm -rf "$work"
}

install_lint() {
	local cached="${cache_bin}/golangci-lint-${golangci_lint_version}"
	if ! [ -x "$cached" ]; then
		log "building golangci-lint ${golangci_lint_version} (2-4 minutes)"
		local gobin
		gobin="$(mktemp -d)"
		GOBIN="$gobin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${golangci_lint_version}" 2>&1 |
			grep -v '^go: downloading' >&2 || true
		[ -x "${gobin}/golangci-lint" ] || { log "building golangci-lint failed"; exit 1; }
		mkdir -p "$cache_bin"
		mv "${gobin}/golangci-lint" "$cached"
		rm -rf "$gobin"
	fi
	mkdir -p "$tools_bin"
	ln -sf "$cached" "${tools_bin}/golangci-lint"
	install_actionlint
}

# actionlint checks .github/workflows (and the shell in their run: steps,
# through shellcheck); it builds in well under a minute.
install_actionlint() {
	local cached="${cache_bin}/actionlint-${actionlint_version}"
	if ! [ -x "$cached" ]; then
		log "building actionlint ${actionlint_version}"
		local gobin
		gobin="$(mktemp -d)"
		GOBIN="$gobin" go install "github.com/rhysd/actionlint/cmd/actionlint@${actionlint_version}" 2>&1 |
			grep -v '^go: downloading' >&2 || true
		[ -x "${gobin}/actionlint" ] || { rm -rf "$gobin"; log "building actionlint failed"; exit 1; }
		mkdir -p "$cache_bin"
		cp "${gobin}/actionlint" "${cached}.tmp.$$"
		mv "${cached}.tmp.$$" "$cached"
		rm -rf "$gobin"
	fi
	mkdir -p "$tools_bin"
	ln -sf "$cached" "${tools_bin}/actionlint"
}

# goreleaser is only needed for `goreleaser check` and release builds. Its
# ~1,800 packages make it the slowest tool to build on a fresh machine:
# 2.2 GB of modules, 1.1 GB of build cache, ~12 CPU-minutes.
install_goreleaser() {
	local cached="${cache_bin}/goreleaser-${goreleaser_version}"
	if ! [ -x "$cached" ]; then
		log "building goreleaser ${goreleaser_version} (8-30 minutes on 2 cores, depending on load)"
		local gobin
		gobin="$(mktemp -d)"
		GOBIN="$gobin" go install "github.com/goreleaser/goreleaser/v2@${goreleaser_version}" 2>&1 |
			grep -v '^go: downloading' >&2 || true
		[ -x "${gobin}/goreleaser" ] || { rm -rf "$gobin"; log "building goreleaser failed"; exit 1; }
		mkdir -p "$cache_bin"
		# Copied under a temporary name in the cache's own file system, then
		# renamed: an interrupted copy must not leave an executable that
		# passes the -x test above.
		cp "${gobin}/goreleaser" "${cached}.tmp.$$"
		mv "${cached}.tmp.$$" "$cached"
		rm -rf "$gobin"
	fi
	mkdir -p "$tools_bin"
	ln -sf "$cached" "${tools_bin}/goreleaser"
}

# install_arm64 makes this host run arm64 binaries and install arm64
# packages, idempotently. On an arm64 host it has nothing to do.
install_arm64() {
	if [ "$(dpkg --print-architecture)" = arm64 ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "the arm64 part needs root: it mounts binfmt_misc, registers qemu-aarch64 and adds dpkg's arm64 architecture"
		exit 1
	fi
	if ! [ -e "${binfmt_dir}/register" ]; then
		log "mounting binfmt_misc at ${binfmt_dir}"
		mount -t binfmt_misc binfmt_misc "$binfmt_dir" ||
			{ log "cannot mount binfmt_misc (in a container, the host must mount it)"; exit 1; }
	fi
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		log "adding dpkg's arm64 architecture"
		dpkg --add-architecture arm64
		apt_get update -qq
	fi
	local missing=() p
	for p in "${arm64_host_packages[@]}" "${arm64_foreign_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing ${missing[*]}"
		# A list fetched before arm64 was added has no arm64 packages.
		apt-cache policy systemd-boot-efi:arm64 2>/dev/null | grep -q 'Candidate: [0-9]' || apt_get update -qq
		DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	# update-binfmts only warns when the format is already enabled.
	update-binfmts --enable qemu-aarch64 2>/dev/null || true
	check_arm64
}

# check_arm64 fails unless arm64 binaries run here, also inside a chroot
# (the F flag: the kernel holds the interpreter open, so mmdebstrap's
# chroot needs no copy of it), and the mirror serves arm64 packages.
check_arm64() {
	local entry="${binfmt_dir}/qemu-aarch64"
	if ! [ -e "$entry" ] || ! grep -qx enabled "$entry"; then
		log "qemu-aarch64 is not enabled in ${binfmt_dir}; run: update-binfmts --enable qemu-aarch64"
		exit 1
	fi
	grep -q '^flags:.*F' "$entry" || { log "qemu-aarch64 is registered without the F flag: arm64 binaries will not run in a chroot"; exit 1; }
	arch-test arm64 >/dev/null || { log "arm64 binaries do not run on this host (arch-test arm64 failed)"; exit 1; }
	local work
	work="$(mktemp -d)"
	if ! (cd "$work" && apt-get download -qq linux-image-cloud-arm64:arm64 >/dev/null 2>&1); then
		rm -rf "$work"
		log "the Debian mirror serves no arm64 packages (apt-get download linux-image-cloud-arm64:arm64 failed)"
		exit 1
	fi
	rm -rf "$work"
}

# apt_get waits for another apt or dpkg to finish rather than failing.
apt_get() {
	apt-get -o DPkg::Lock::Timeout=600 "$@"
}

main() {
	local what=("$@")
	[ "${#what[@]}" -gt 0 ] || what=(all)
	for w in "${what[@]}"; do
		case "$w" in
		apt) install_apt ;;
		packer) install_packer; install_packer_current ;;
		lint) install_lint ;;
		goreleaser) install_goreleaser ;;
		arm64) install_arm64 ;;
		all) install_apt; install_packer; install_packer_current; install_lint ;;
		*) log "unknown part '$w' (want apt, packer, lint, goreleaser, arm64 or all)"; exit 2 ;;
		esac
	done
}

main "$@"
