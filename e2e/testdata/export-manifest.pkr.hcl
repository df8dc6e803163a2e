# maas-export, then Packer's own manifest post-processor in the same chain:
# it records the files of maas-export's artifact.
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
    post-processor "manifest" {
      output = "packer-manifest.json"
    }
  }
}
