# maas-export followed by maas-upload: the upload takes the file, sha256,
# size, filetype and architecture from the export's artifact.
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

source "file" "image" {
  source = var.image
  target = "disk.qcow2"
}

build {
  sources = ["source.file.image"]

  post-processors {
    post-processor "maas-export" {
      compression_level = 1
    }
    post-processor "maas-upload" {
      image_name = "custom/debian-e2e"
      base_image = "ubuntu/noble"
    }
  }
}
