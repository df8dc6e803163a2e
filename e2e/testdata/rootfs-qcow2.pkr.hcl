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

variable "checksum" {
  type = string
}

# The builder writes the generalized disk as a standalone qcow2; maas-export
# turns that disk into the MAAS tarball. remove_kernel purges the kernel
# packages from the root file system; the test image's Unified Kernel Image
# on the ESP belongs to no package and stays on the qcow2's ESP, which the
# tarball (the root file system only) leaves out anyway.
source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.checksum
  accelerator      = "tcg"
  disk_size        = "3G"
  output_directory = "output"
  output_format    = "qcow2"
  remove_kernel    = true
}

build {
  sources = ["source.maas-rootfs.debian"]

  provisioner "shell" {
    inline = ["echo provisioned by $(id -un) | sudo tee /etc/e2e-marker"]
  }

  # A Debian image deploys without a hook; "ubuntu" installs it anyway.
  # kernel-kept does not warn about the kernel that remove_kernel purges
  # later: the builder tells the provisioner.
  provisioner "maas-curtin-hook" {
    hook = "ubuntu"
  }

  post-processor "maas-export" {
    output              = "image.tar.gz"
    compression_level   = 1
    keep_input_artifact = true
  }
}
