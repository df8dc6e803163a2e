# shellcheck shell=sh
# shellcheck disable=SC2154 # the settings come from the header the builder writes
#
# openSUSE and SUSE Linux Enterprise: zypper. See common.sh for how the
# parts make one script. cloud-init's wicked (ifcfg-* in
# /etc/sysconfig/network) and NetworkManager files go with the
# network-config rule, in common.sh.

# suse_check_remove_kernel refuses: MAAS installs no kernel into these
# images, which boot the one they hold.
suse_check_remove_kernel() { refuse_remove_kernel "a SUSE image"; }

suse_clean_packages() {
	if command -v zypper >/dev/null; then
		say "zypper clean --all"
		zypper --non-interactive --quiet clean --all
	fi
	rm -rf "$root"/var/cache/zypp/*
}
