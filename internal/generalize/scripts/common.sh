# shellcheck shell=sh
# shellcheck disable=SC2154 # the settings come from the header the builder writes
#
# The generalization every family shares. The builder sends, as one script
# to root's sh in the guest: its settings as variable assignments, this
# file, one file per family (debian.sh, rhel.sh, suse.sh) and main.sh,
# which calls what the settings ask for; before the provisioners, the same
# with check.sh instead of main.sh, as the build user. Every image path
# goes through $root: "" in the guest, a fake root in the unit tests.

say() { echo "packer-maas: $*"; }

# skipped RULE: whether skip_generalize names RULE.
skipped() {
	case " $skip_rules " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# os_release NAME: NAME's value in the image's os-release, unquoted.
os_release() {
	release=$root/etc/os-release
	[ -f "$release" ] || release=$root/usr/lib/os-release
	[ -f "$release" ] || return 0
	sed -n "s/^$1=[\"']\{0,1\}\([^\"']*\)[\"']\{0,1\}\$/\1/p" "$release" | tail -n 1
}

# image_family prints debian, rhel or suse: the first of os-release's ID
# and ID_LIKE words that names one, else the package manager present;
# nothing when neither tells.
image_family() {
	for id in $(os_release ID) $(os_release ID_LIKE); do
		case $id in
		debian | ubuntu) echo debian && return ;;
		rhel | centos | fedora | rocky | almalinux | ol) echo rhel && return ;;
		suse | opensuse | opensuse-* | sles | sled) echo suse && return ;;
		esac
	done
	if command -v apt-get >/dev/null; then
		echo debian
	elif command -v dnf >/dev/null || command -v yum >/dev/null; then
		echo rhel
	elif command -v zypper >/dev/null; then
		echo suse
	fi
}

# find_family sets $family, the image's, and says it.
find_family() {
	family=$(image_family)
	say "image family: ${family:-unknown} (ID=$(os_release ID))"
}

# check_remove_kernel stops the script, before anything is removed, when
# remove_kernel is set and cannot work on $family.
check_remove_kernel() {
	[ "$remove_kernel" = yes ] || return 0
	case $family in
	debian) debian_check_remove_kernel ;;
	rhel) rhel_check_remove_kernel ;;
	suse) suse_check_remove_kernel ;;
	*) refuse_remove_kernel "" ;;
	esac
}

# refuse_remove_kernel WHAT stops the script, saying the image is WHAT.
refuse_remove_kernel() {
	echo "remove_kernel is for Debian-family images (Debian, Ubuntu) only, and this one is ${1:-of no family known here} (ID=$(os_release ID)):" \
		"MAAS installs its own kernel on deploy only into those, and this image cannot boot without the kernel it holds; remove remove_kernel" >&2
	exit 1
}

clean_cloud_init() {
	if ! skipped cloud-init-state; then
		if skipped cloud-init-logs; then
			say "cloud-init clean"
			cloud-init clean
		else
			say "cloud-init clean --logs"
			cloud-init clean --logs
		fi
		rm -rf "$root/var/lib/cloud/instance" "$root/var/lib/cloud/instances"
	elif ! skipped cloud-init-logs; then
		rm -f "$root/var/log/cloud-init.log" "$root/var/log/cloud-init-output.log"
	fi
}

remove_build_user() {
	say "removing the build user $build_user"
	home=$(getent passwd "$build_user" | cut -d: -f6)
	delete_build_user
	case $home in /home/?*) rm -rf "$root$home" ;; esac
	rm -f "$root/var/mail/$build_user" "$root/var/spool/mail/$build_user"
	for f in "$root"/etc/sudoers.d/*; do
		[ -f "$f" ] || continue
		if grep -q "^${build_user}[[:space:]]" "$f"; then
			sed -i -e "/^${build_user}[[:space:]]/d" -e "/^# User rules for $build_user\$/d" "$f"
			grep -q '^[^#[:space:]]' "$f" || rm -f "$f"
		fi
	done
}

# delete_build_user runs userdel -f, which warns that the user is
# "currently used by process N": that is this script's own SSH session,
# which ends at power-off. Other messages are shown; a failure shows
# everything and stops the script.
delete_build_user() {
	out=$(LC_ALL=C userdel -f "$build_user" 2>&1) || {
		rc=$?
		printf '%s\n' "$out" >&2
		exit $rc
	}
	[ -z "$out" ] || printf '%s\n' "$out" | grep -vx "userdel: user $build_user is currently used by process [0-9]*" || :
}

# remove_proxies takes out the proxy settings the build's seed wrote: apt's
# file, and its lines of /etc/environment (the image's own lines stay).
remove_proxies() {
	[ -n "$proxy_lines" ] || return 0
	say "removing the build's proxy settings"
	rm -f "$root$proxy_file"
	# On other families writing apt's file made its directories.
	rmdir "$root/etc/apt/apt.conf.d" "$root/etc/apt" 2>/dev/null || :
	environ=$root/etc/environment
	if [ -f "$environ" ]; then
		printf '%s\n' "$proxy_lines" | grep -vxF -f - "$environ" >"$environ.packer-maas" || [ $? -eq 1 ]
		cat "$environ.packer-maas" >"$environ"
		rm -f "$environ.packer-maas"
	fi
}

# remove_traces does in the guest what the tar rules of the same names do
# in the tarball, for the ddgz and qcow2 outputs too.
remove_traces() {
	if ! skipped network-config; then
		say "removing the build VM's network configuration"
		rm -f "$root/etc/netplan/50-cloud-init.yaml" "$root/etc/network/interfaces.d/50-cloud-init" "$root/etc/network/interfaces.d/50-cloud-init.cfg"
		rm -f "$root"/etc/NetworkManager/system-connections/cloud-init-*.nmconnection
		for f in "$root"/etc/sysconfig/network-scripts/ifcfg-* "$root"/etc/sysconfig/network/ifcfg-*; do
			[ "${f##*/}" = ifcfg-lo ] || rm -f "$f"
		done
	fi
	if ! skipped hostname; then
		say "emptying /etc/hostname"
		if [ -f "$root/etc/hostname" ]; then : >"$root/etc/hostname"; fi
	fi
	if ! skipped random-seed; then
		say "removing the random seed"
		# Stopping the service saves the seed now rather than at
		# power-off, after its removal.
		systemctl stop systemd-random-seed.service 2>/dev/null || :
		rm -f "$root/var/lib/systemd/random-seed"
	fi
	if ! skipped journal; then
		say "removing the build's journal"
		# journald writes to /run from here to power-off.
		journalctl --relinquish-var 2>/dev/null || :
		rm -rf "$root"/var/log/journal/*
	fi
	if ! skipped login-records; then
		say "emptying the login records"
		# Stopping it writes the shutdown record now, before the emptying.
		systemctl stop systemd-update-utmp.service 2>/dev/null || :
		for f in /var/log/wtmp /var/log/btmp /var/log/lastlog /var/log/auth.log /var/log/secure; do
			if [ -f "$root$f" ]; then : >"$root$f"; fi
		done
		rm -f "$root"/var/log/wtmp.* "$root"/var/log/btmp.* "$root"/var/log/auth.log.* "$root"/var/log/secure-* "$root"/var/log/secure.* \
			"$root/var/lib/wtmpdb/wtmp.db" "$root/var/lib/lastlog/lastlog2.db"
	fi
}

remove_host_keys() {
	skipped ssh-host-keys && return
	say "removing SSH host keys"
	rm -f "$root"/etc/ssh/ssh_host_*
}

empty_machine_id() {
	skipped machine-id && return
	say "emptying machine-id"
	: >"$root/etc/machine-id"
	[ -L "$root/var/lib/dbus/machine-id" ] || rm -f "$root/var/lib/dbus/machine-id"
}
