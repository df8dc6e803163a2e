# shellcheck shell=sh disable=SC2154 # pkg is set before this, by InstallKernelScript
# Installs the package $pkg (set before this) with the image's package
# manager unless it is installed already, so it needs no package mirror
# then. Runs as root in the guest.
set -e
if command -v dpkg-query >/dev/null 2>&1; then
	# shellcheck disable=SC2016 # ${Status} is dpkg-query's format
	case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" in
	*" installed") echo "$pkg is installed already"; exit 0 ;;
	esac
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y "$pkg"
elif command -v rpm >/dev/null 2>&1; then
	if rpm -q "$pkg" >/dev/null 2>&1; then echo "$pkg is installed already"; exit 0; fi
	if command -v dnf >/dev/null 2>&1; then dnf install -y "$pkg"
	elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install "$pkg"
	else yum install -y "$pkg"
	fi
else
	echo "the image has neither dpkg nor rpm to install $pkg with" >&2
	exit 3
fi
