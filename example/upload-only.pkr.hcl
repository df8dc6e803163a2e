# Upload a MAAS image file that already exists (built elsewhere, or by an
# earlier packer-maas run) without building anything: the `null` builder
# does nothing and maas-upload sends the file.
#
#   MAAS_URL=http://maas.example:5240/MAAS MAAS_API_KEY=... \
#     packer build -var image_path=custom-cloudimg.tar.gz upload-only.pkr.hcl
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

variable "image_path" {
  type        = string
  description = "The MAAS image file to upload (a tgz root filesystem or a ddgz disk)."
}

variable "filetype" {
  type        = string
  default     = "tgz"
  description = "The file's MAAS filetype: tgz for a root filesystem tarball, ddgz for a gzipped disk."
}

variable "architecture" {
  type        = string
  default     = "amd64/generic"
  description = "The MAAS architecture the image boots on."
}

variable "base_image" {
  type        = string
  default     = "ubuntu/noble"
  description = "OS/SERIES of the image: MAAS deploys it as that OS (e.g. rhel/9 for a RHEL-family image)."
}

variable "name" {
  type        = string
  default     = "custom/uploaded"
  description = "The image's name in MAAS."
}

# maas_url and api_key default to the MAAS_URL and MAAS_API_KEY environment
# variables; set them here to keep them with the template instead.
variable "maas_url" {
  type    = string
  default = env("MAAS_URL")
}

variable "api_key" {
  type      = string
  default   = env("MAAS_API_KEY")
  sensitive = true
}

source "null" "existing" {
  communicator = "none"
}

build {
  sources = ["source.null.existing"]

  post-processor "maas-upload" {
    maas_url     = var.maas_url
    api_key      = var.api_key
    image_path   = var.image_path
    filetype     = var.filetype
    architecture = var.architecture
    base_image   = var.base_image
    image_name   = var.name
  }
}
