# An Ubuntu MAAS image from the Ubuntu cloud image, the equivalent of
# packer-maas's ubuntu-cloudimg template (`make custom-cloudimg.tar.gz`),
# without root, cloud-localds, nbd or FUSE:
#
#   MAAS_URL=http://maas.example:5240/MAAS MAAS_API_KEY=... \
#     packer build -var ubuntu_series=noble -var customize_script=my.sh ubuntu-cloudimg.pkr.hcl
#
# Add `-except=maas-upload` to only write output-<series>/ubuntu-<series>.tar.gz.
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

variable "ubuntu_series" {
  type        = string
  default     = "noble"
  description = "The Ubuntu series to build (packer-maas's SERIES)."
}

variable "architecture" {
  type        = string
  default     = "amd64"
  description = "amd64 or arm64 (packer-maas's ARCH). arm64 runs under TCG on x86 hosts."
}

variable "customize_script" {
  type        = string
  default     = "scripts/ubuntu-customize.sh"
  description = "A script run as root in the build VM (packer-maas's CUSTOMIZE)."
}

variable "kernel" {
  type        = string
  default     = ""
  description = "A kernel package deployed machines get instead of the one MAAS picks, e.g. linux-image-lowlatency (packer-maas's KERNEL)."
}

variable "timeout" {
  type        = string
  default     = "1h"
  description = "How long to wait for the build VM's SSH (packer-maas's TIMEOUT)."
}

variable "http_proxy" {
  type        = string
  default     = env("http_proxy")
  description = "HTTP proxy for the build VM; removed before the export."
}

variable "https_proxy" {
  type    = string
  default = env("https_proxy")
}

variable "no_proxy" {
  type    = string
  default = env("no_proxy")
}

variable "maas_url" {
  type        = string
  default     = env("MAAS_URL")
  description = "The MAAS to upload to, like http://maas.example:5240/MAAS."
}

variable "api_key" {
  type        = string
  default     = env("MAAS_API_KEY")
  sensitive   = true
  description = "A MAAS API key, as `maas apikey --username USER` prints it."
}

variable "name" {
  type        = string
  default     = ""
  description = "The image's name in MAAS. Defaults to custom/ubuntu-<series>."
}

locals {
  image_base = "https://cloud-images.ubuntu.com/${var.ubuntu_series}/current"
  name       = var.name != "" ? var.name : "custom/ubuntu-${var.ubuntu_series}"
}

source "maas-rootfs" "cloudimg" {
  image_url      = "${local.image_base}/${var.ubuntu_series}-server-cloudimg-${var.architecture}.img"
  image_checksum = "file:${local.image_base}/SHA256SUMS"
  architecture   = var.architecture
  disk_size      = "8G"
  cpus           = 2
  memory         = 2048
  ssh_timeout    = var.timeout

  http_proxy  = var.http_proxy
  https_proxy = var.https_proxy
  no_proxy    = var.no_proxy

  # MAAS installs the kernel it picks (or `kernel`, through the curtin
  # hook) when it deploys, so the cloud image's own kernel goes.
  remove_kernel    = true
  output_directory = "output-${var.ubuntu_series}"
  output_filename  = "ubuntu-${var.ubuntu_series}.tar.gz"
}

build {
  sources = ["source.maas-rootfs.cloudimg"]

  provisioner "shell" {
    script            = var.customize_script
    execute_command   = "chmod +x {{ .Path }}; sudo -n env {{ .Vars }} {{ .Path }}"
    expect_disconnect = true
  }

  # Writes /curtin/CUSTOM_KERNEL and the hook that makes curtin install that
  # kernel on deploy, when `kernel` is set; checks the image is deployable
  # (cloud-init, netplan) in every case.
  provisioner "maas-curtin-hook" {
    custom_kernel = var.kernel
  }

  post-processor "maas-upload" {
    maas_url   = var.maas_url
    api_key    = var.api_key
    image_name = local.name
    title      = "Ubuntu ${var.ubuntu_series} (custom)"
  }
}
