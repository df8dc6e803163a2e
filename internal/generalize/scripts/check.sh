# shellcheck shell=sh
#
# The check the builder runs before the provisioners: what the settings
# need of the image, so that generalize cannot fail on it after the
# provisioning. It changes nothing. See common.sh for the parts before it.

find_family
check_remove_kernel
