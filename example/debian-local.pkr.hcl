# The quick start (`make example`): boot the local Debian test cloud image
# in QEMU, customize it, generalize it and export it as a MAAS image, with
# no root and no internet; upload it when MAAS_URL and MAAS_API_KEY are set.
# scripts/example.sh runs it.
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

variable "image" {
  type        = string
  description = "Path or URL of the cloud image (qcow2 or raw)."
}

variable "image_checksum" {
  type        = string
  description = "Its checksum, like sha256:abc..., or file:PATH-OR-URL."
}

variable "maas_name" {
  type        = string
  default     = "custom/debian-bookworm"
  description = "Name of the image in MAAS."
}

source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.image_checksum
  disk_size        = "3G"
  output_directory = "output"
  output_filename  = "debian-bookworm.tar.gz"
}

build {
  sources = ["source.maas-rootfs.debian"]

  provisioner "shell" {
    inline = [
      "echo 'Built with packer-plugin-maas' | sudo tee /etc/motd",
    ]
  }

  post-processor "maas-upload" {
    name       = "upload" # scripts/example.sh skips it with -except=upload
    image_name = var.maas_name
    title      = "Debian 12 (packer-plugin-maas quick start)"
    base_image = "ubuntu/jammy"
  }
}
