# The file builder hands a disk image to maas-export.
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

variable "filetype" {
  type    = string
  default = "tgz"
}

variable "output" {
  type    = string
  default = ""
}

source "file" "image" {
  source = var.image
  target = "disk.qcow2"
}

build {
  sources = ["source.file.image"]

  post-processor "maas-export" {
    filetype          = var.filetype
    output            = var.output
    compression_level = 1
  }
}
