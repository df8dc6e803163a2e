# maas-rootfs with maas-curtin-hook, its tarball uploaded by maas-upload
# (MAAS_URL and MAAS_API_KEY name the fake): the README's main path, which
# the e2e subset under current Packer runs.
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

source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.checksum
  accelerator      = "tcg"
  disk_size        = "3G"
  output_directory = "output"
}

build {
  sources = ["source.maas-rootfs.debian"]

  # The test image has this kernel already: nothing is downloaded.
  provisioner "maas-curtin-hook" {
    hook           = "ubuntu"
    custom_kernel  = "linux-image-cloud-amd64"
    install_kernel = true
  }

  post-processor "maas-upload" {
    image_name = "custom/debian-current-packer"
    base_image = "ubuntu/noble"
  }
}
