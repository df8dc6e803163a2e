# shellcheck shell=sh
# shellcheck disable=SC2154 # the settings come from the header the builder writes
#
# The generalize script's steps, in order; the parts before it define them
# (see common.sh).

find_family
check_remove_kernel
[ "$remove_kernel" != yes ] || debian_remove_kernel
clean_cloud_init
remove_build_user
remove_proxies
remove_traces
if ! skipped package-cache; then
	case $family in
	debian) debian_clean_packages ;;
	rhel) rhel_clean_packages ;;
	suse) suse_clean_packages ;;
	esac
fi
remove_host_keys
empty_machine_id
sync
say "generalized"
# shellcheck disable=SC2086 # a command and its arguments
$power_off
