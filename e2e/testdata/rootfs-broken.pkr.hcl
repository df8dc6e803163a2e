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

source "maas-rootfs" "broken" {
  image_url        = var.image
  image_checksum   = "none"
  accelerator      = "tcg"
  output_directory = "output"
  ssh_timeout      = "2m"
}

build {
  sources = ["source.maas-rootfs.broken"]

  provisioner "shell" {
    inline = ["echo never reached"]
  }
}
