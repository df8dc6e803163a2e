packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

variable "image" {
  type = string
}

# An arm64 build VM on this x86 host (TCG, the virt machine, AAVMF) booting a
# blank disk: there is no arm64 cloud image here, so the test checks that
# the VM starts and its UEFI firmware runs, then that the build fails cleanly.
# output_format qcow2 skips the base image check, which would stop a tgz
# build of a blank disk before QEMU starts.
source "maas-rootfs" "arm64" {
  image_url        = var.image
  image_checksum   = "none"
  architecture     = "arm64"
  output_directory = "output"
  output_format    = "qcow2"
  ssh_timeout      = "1m"
}

build {
  sources = ["source.maas-rootfs.arm64"]

  provisioner "shell" {
    inline = ["echo never reached"]
  }
}
