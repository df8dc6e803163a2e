packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
  }
}

source "null" "smoke" {
  communicator = "none"
}

build {
  sources = ["source.null.smoke"]

  provisioner "shell-local" {
    inline = ["echo built > built.txt"]
  }
}
