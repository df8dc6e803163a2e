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

# user_data whose runcmd fails: cloud-init ends in error, and the build must
# stop there with cloud-init's own account of it.
source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.checksum
  accelerator      = "tcg"
  output_directory = "output"
  user_data        = <<-EOT
    runcmd:
      - [sh, -c, "echo e2e-runcmd-failed >&2; exit 3"]
  EOT
}

build {
  sources = ["source.maas-rootfs.debian"]

  provisioner "shell" {
    inline = ["echo never reached"]
  }
}
