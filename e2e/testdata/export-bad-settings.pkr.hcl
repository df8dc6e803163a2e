# Settings maas-export must reject at `packer validate`.
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

source "file" "image" {
  content = "x"
  target  = "disk.qcow2"
}

build {
  sources = ["source.file.image"]

  post-processor "maas-export" {
    filetype          = "ddxz"
    compression_level = 12
    architecture      = "amd64/generic/x"
    skip_generalize   = ["everything"]
    exclude           = ["var/cache"]
    backing_file_dirs = ["no-such-dir"]
  }
}
