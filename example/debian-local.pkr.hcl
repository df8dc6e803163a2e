# The quick start (`make example`): turn the local Debian test cloud image
# into a MAAS image file without root, and upload it when MAAS_URL and
# MAAS_API_KEY are set. scripts/example.sh runs it.
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
  description = "Path of the cloud image (qcow2 or raw) to turn into a MAAS image."
}

variable "maas_name" {
  type        = string
  default     = "custom/debian-bookworm"
  description = "Name of the image in MAAS."
}

source "file" "cloud-image" {
  source = var.image
  target = "output/debian-bookworm.qcow2"
}

build {
  sources = ["source.file.cloud-image"]

  post-processors {
    post-processor "maas-export" {
      output = "output/debian-bookworm.tar.gz"
    }
    post-processor "maas-upload" {
      name       = "upload" # scripts/example.sh skips it with -except=upload
      image_name = var.maas_name
      title      = "Debian 12 (packer-plugin-maas quick start)"
      base_image = "ubuntu/jammy"
    }
  }
}
