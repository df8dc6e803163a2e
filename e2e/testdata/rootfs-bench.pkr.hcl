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

# maas-rootfs with its defaults, the benchmark's subject.
source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.checksum
  accelerator      = "tcg"
  output_directory = "output"
}

build {
  sources = ["source.maas-rootfs.debian"]

  provisioner "shell" {
    inline = ["echo provisioned by $(id -un) | sudo -n tee /etc/e2e-marker"]
  }
}
