# shellcheck shell=sh
# Deploy-readiness checks for a MAAS image. Set before this: ROOT (the
# image's root, "" in the guest), KERNEL (custom_kernel), INSTALL_KERNEL (1
# when it must be installed), KERNEL_REMOVED_LATER (1 when the build removes
# the image's kernel after the provisioners), WAIVED (space-separated check
# names).
# Prints one "MAAS-CHECK<TAB>name<TAB>status<TAB>detail" line per check and
# "MAAS-CHECK<TAB>end" last. Runs as root, under any POSIX sh.
set -f
tab=$(printf '\t')
cr=$(printf '\r')
nl='
'

# report NAME STATUS DETAIL: one result line; the detail is kept on it.
report() {
	detail=$3
	case $detail in
	*"$tab"* | *"$cr"* | *"$nl"*) detail=$(printf '%s' "$detail" | tr '\t\r\n' '   ') ;;
	esac
	printf 'MAAS-CHECK\t%s\t%s\t%s\n' "$1" "$2" "$detail"
}

# waived NAME: reports NAME waived when skip_checks holds it.
waived() {
	case " $WAIVED " in *" $1 "*) report "$1" waived ""; return 0 ;; esac
	return 1
}

# find_program NAME: prints the image path of an executable NAME in the
# directories where packages put programs (a non-root user's PATH may lack
# the sbin ones, and a test's fake root is not on PATH at all).
find_program() {
	for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
		if [ -f "$ROOT$d/$1" ] && [ -x "$ROOT$d/$1" ]; then
			printf '%s\n' "$d/$1"
			return 0
		fi
	done
	return 1
}

os_release=$ROOT/etc/os-release
[ -f "$os_release" ] || os_release=$ROOT/usr/lib/os-release
os_field() {
	[ -f "$os_release" ] && sed -n "s/^$1=//p" "$os_release" | tr -d "\"'" | head -n 1
}
os_id=$(os_field ID)
os_like=$(os_field ID_LIKE)
debian_family=0
for id in $os_id $os_like; do
	case $id in debian | ubuntu) debian_family=1 ;; esac
done

check_cloud_init() {
	waived cloud-init && return
	if p=$(find_program cloud-init); then
		report cloud-init ok "$p"
	else
		report cloud-init fail ""
	fi
}

check_netplan() {
	waived netplan && return
	if [ "$os_id" != ubuntu ]; then
		report netplan skip "ID=$os_id"
	elif p=$(find_program netplan); then
		report netplan ok "$p"
	else
		report netplan fail ""
	fi
}

hook=$ROOT/curtin/curtin-hooks

# hook_interpreter: prints the program the hook's shebang runs, as
# "python3", "bash" or "sh" when MAAS's ephemeral Ubuntu has it; fails with
# the reason otherwise.
hook_interpreter() {
	first=$(head -c 256 "$hook" | head -n 1)
	case $first in
	'#!'*) ;;
	*) echo "no #! line" && return 1 ;;
	esac
	case $first in *"$cr") echo "Windows line ending (CR) in: $first" && return 1 ;; esac
	# shellcheck disable=SC2086 # split the shebang into words
	set -- ${first#??}
	case ${1-} in
	/usr/bin/env | /bin/env)
		shift
		while [ "${1-}" = -S ] || [ "${1-}" = - ]; do shift; done
		name=${1-}
		;;
	/usr/bin/python3 | /bin/python3 | /usr/bin/bash | /bin/bash | /usr/bin/sh | /bin/sh) name=${1##*/} ;;
	*) name= ;;
	esac
	case $name in
	python3 | bash | sh) echo "$name" ;;
	*) echo "$first" && return 1 ;;
	esac
}

check_hook() {
	if [ ! -e "$hook" ]; then
		for c in hook-executable hook-interpreter hook-compiles; do
			waived $c || report $c skip "no hook"
		done
		return
	fi
	if ! waived hook-executable; then
		if [ -f "$hook" ] && [ -x "$hook" ]; then
			report hook-executable ok ""
		else
			report hook-executable fail "$(ls -ld "$hook" 2>&1)"
		fi
	fi
	interp=$(hook_interpreter) || {
		waived hook-interpreter || report hook-interpreter fail "$interp"
		waived hook-compiles || report hook-compiles skip "no known interpreter"
		return
	}
	waived hook-interpreter || report hook-interpreter ok "$interp"
	waived hook-compiles && return
	if [ "$interp" != python3 ]; then
		report hook-compiles skip "not Python"
	elif ! py=$(find_program python3); then
		report hook-compiles skip "the image has no python3"
	elif out=$("$ROOT$py" -I -c 'import sys
with open(sys.argv[1], "rb") as f:
    compile(f.read(), "/curtin/curtin-hooks", "exec")' "$hook" 2>&1); then
		report hook-compiles ok "$py"
	else
		report hook-compiles fail "$(printf '%s\n' "$out" | tail -n 4)"
	fi
}

kernel_installed() {
	if p=$(find_program dpkg-query); then
		# shellcheck disable=SC2016 # ${Status} is dpkg-query's format
		case "$("$ROOT$p" --admindir="$ROOT/var/lib/dpkg" -W -f='${Status}' "$KERNEL" 2>/dev/null)" in
		*" installed") echo dpkg && return 0 ;;
		esac
		echo "dpkg has no $KERNEL installed"
		return 1
	elif p=$(find_program rpm); then
		"$ROOT$p" --root "${ROOT:-/}" -q "$KERNEL" >/dev/null 2>&1 && echo rpm && return 0
		echo "rpm has no $KERNEL installed"
		return 1
	fi
	echo "the image has neither dpkg nor rpm"
	return 1
}

check_kernel_installed() {
	waived kernel-installed && return
	if [ "$INSTALL_KERNEL" != 1 ]; then
		report kernel-installed skip "install_kernel is not set"
	elif how=$(kernel_installed); then
		report kernel-installed ok "$how"
	else
		report kernel-installed fail "$how"
	fi
}

# MAAS's curtin installs its own kernel into a Debian-family image unless
# /curtin/CUSTOM_KERNEL names one.
check_kernel_kept() {
	waived kernel-kept && return
	if [ "$debian_family" != 1 ]; then
		report kernel-kept skip "ID=$os_id"
		return
	fi
	if [ "$KERNEL_REMOVED_LATER" = 1 ]; then
		report kernel-kept ok "remove_kernel removes it at generalize"
		return
	fi
	set +f
	kernels=
	for k in "$ROOT"/boot/vmlinuz-*; do
		[ -e "$k" ] && kernels="$kernels ${k##*/}"
	done
	set -f
	if [ -n "$kernels" ] && [ ! -s "$ROOT/curtin/CUSTOM_KERNEL" ]; then
		report kernel-kept warn "${kernels# }"
	else
		report kernel-kept ok ""
	fi
}

check_cloud_init
check_netplan
check_hook
check_kernel_installed
check_kernel_kept
printf 'MAAS-CHECK\tend\n'
