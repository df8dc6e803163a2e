#!/bin/sh
# A customize script for ubuntu-cloudimg.pkr.hcl (packer-maas's CUSTOMIZE):
# it runs as root in the build VM, with the proxy settings of the template
# in apt's configuration. Replace it with your own through
# `-var customize_script=PATH`.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get -y -q dist-upgrade
