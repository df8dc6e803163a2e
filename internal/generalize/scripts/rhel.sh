# shellcheck shell=sh
# shellcheck disable=SC2154 # the settings come from the header the builder writes
#
# RHEL and its rebuilds (CentOS, Rocky Linux, AlmaLinux, Oracle Linux),
# Fedora: dnf or yum. See common.sh for how the parts make one script.
# cloud-init's NetworkManager connections and ifcfg-* files go with the
# network-config rule, in common.sh.

# rhel_check_remove_kernel refuses: MAAS installs no kernel into these
# images, which boot the one they hold.
rhel_check_remove_kernel() { refuse_remove_kernel "a RHEL-family image"; }

# rhel_clean_packages empties the package caches of dnf (dnf4 in
# /var/cache/dnf, dnf5 in /var/cache/libdnf5) or yum.
rhel_clean_packages() {
	if command -v dnf >/dev/null; then
		say "dnf clean all"
		dnf -q clean all
	elif command -v yum >/dev/null; then
		say "yum clean all"
		yum -q clean all
	fi
	rm -rf "$root"/var/cache/dnf/* "$root"/var/cache/libdnf5/* "$root"/var/cache/yum/*
}
