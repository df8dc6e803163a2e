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

source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = "none"
  accelerator      = "tcg"
  output_directory = "output"
}

build {
  sources = ["source.maas-rootfs.debian"]

  # The marker is computed in the guest, so seeing it in Packer's output
  # means the provisioner runs there; then it sleeps until interrupted.
  provisioner "shell" {
    inline = ["echo provisioner-$((6 * 7))-sleeping", "sleep 900"]
  }
}
