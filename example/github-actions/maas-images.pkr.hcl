# One MAAS image of the matrix that build-images.yml fans out: an Ubuntu
# series, an architecture and a flavour, built from the Ubuntu cloud image
# with maas-rootfs and uploaded with maas-upload. Run by hand as the
# workflow does:
#
#   MAAS_URL=http://maas.example:5240/MAAS MAAS_API_KEY=... \
#     packer build -var ubuntu_series=noble -var architecture=amd64 -var flavour=web maas-images.pkr.hcl
#
# Add `-except=maas-upload` to only build output-<series>-<arch>-<flavour>/.
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
  description = "The Ubuntu series, e.g. jammy or noble."
}

variable "architecture" {
  type        = string
  default     = "amd64"
  description = "amd64 or arm64: the cloud image's and so the MAAS image's architecture."

  validation {
    condition     = contains(["amd64", "arm64"], var.architecture)
    error_message = "The architecture must be amd64 or arm64."
  }
}

variable "flavour" {
  type        = string
  default     = "base"
  description = "What goes into the image beyond the cloud image: base (nothing) or web (nginx)."

  validation {
    condition     = contains(["base", "web"], var.flavour)
    error_message = "The flavour must be base or web."
  }
}

variable "image_checksum" {
  type        = string
  default     = ""
  description = "The cloud image's checksum, like sha256:HEX. The workflow passes the one it keyed its cache on; empty reads the series' SHA256SUMS."
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

variable "wait_timeout" {
  type        = string
  default     = "30m"
  description = "How long to wait for every MAAS region controller to hold the image."
}

locals {
  image_base = "https://cloud-images.ubuntu.com/${var.ubuntu_series}/current"
  checksum   = var.image_checksum != "" ? var.image_checksum : "file:${local.image_base}/SHA256SUMS"
  image      = "ubuntu-${var.ubuntu_series}-${var.flavour}"
  packages = {
    base = []
    web  = ["nginx"]
  }
}

source "maas-rootfs" "ubuntu" {
  image_url      = "${local.image_base}/${var.ubuntu_series}-server-cloudimg-${var.architecture}.img"
  image_checksum = local.checksum
  architecture   = var.architecture
  disk_size      = "8G"
  cpus           = 2
  memory         = 2048

  # MAAS installs the kernel it picks when it deploys.
  remove_kernel = true
  # Distinct per matrix entry, so builds sharing a runner never collide.
  output_directory = "output-${var.ubuntu_series}-${var.architecture}-${var.flavour}"
  output_filename  = "${local.image}.tar.gz"
}

build {
  sources = ["source.maas-rootfs.ubuntu"]

  provisioner "shell" {
    environment_vars = ["PACKAGES=${join(" ", local.packages[var.flavour])}"]
    inline = [
      "[ -z \"$PACKAGES\" ] || { sudo -n apt-get update -q && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PACKAGES; }",
    ]
  }

  # Checks that the image will deploy (cloud-init, netplan).
  provisioner "maas-curtin-hook" {}

  post-processor "maas-upload" {
    maas_url   = var.maas_url
    api_key    = var.api_key
    image_name = "custom/${local.image}"
    title      = "Ubuntu ${var.ubuntu_series} ${var.flavour}"
    # A failed rebuild leaves the previous version deployable; older
    # versions are cleaned up in MAAS by hand.
    keep_old = true
    # The job succeeds only once every region controller holds the image,
    # so a later step or job can deploy it from any of them.
    wait_complete = true
    wait_timeout  = var.wait_timeout
  }
}
