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

# A tgz build (the default output_format) whose base image the test makes
# unexportable: it must fail before QEMU starts. Should the check ever be
# skipped, the short ssh_timeout fails the build within a few minutes.
source "maas-rootfs" "preboot" {
  image_url        = var.image
  image_checksum   = "none"
  accelerator      = "tcg"
  output_directory = "output"
  ssh_timeout      = "1m"
}

build {
  sources = ["source.maas-rootfs.preboot"]

  provisioner "shell" {
    inline = ["echo never reached"]
  }
}
