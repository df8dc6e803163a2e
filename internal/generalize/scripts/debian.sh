# shellcheck shell=sh
#
# Debian and Ubuntu: dpkg and apt. See common.sh for how the parts make
# one script.

debian_check_remove_kernel() {
	command -v dpkg-query >/dev/null && return
	echo "remove_kernel needs dpkg-query, which this Debian-family image (ID=$(os_release ID)) lacks; remove remove_kernel" >&2
	exit 1
}

# debian_remove_kernel purges the kernel packages: MAAS installs the kernel
# it picks on deploy into Debian-family images.
debian_remove_kernel() {
	say "removing the image's kernel packages"
	kernels=$(dpkg-query -W -f '${Package} ${db:Status-Status}\n' 'linux-image-*' 'linux-modules-*' 'linux-headers-*' 'linux-virtual' \
		'linux-generic*' 'linux-kvm' 'linux-cloud-tools-*' 'linux-tools-*' 2>/dev/null | awk '$2 == "installed" {print $1}')
	if [ -n "$kernels" ]; then
		# shellcheck disable=SC2086 # one word per package
		DEBIAN_FRONTEND=noninteractive apt-get -y -q purge $kernels
	fi
}

debian_clean_packages() {
	command -v apt-get >/dev/null || return 0
	say "apt-get clean"
	apt-get clean
}
