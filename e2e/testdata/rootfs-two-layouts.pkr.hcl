# Two maas-rootfs builds at once, in one packer build: the default test
# image (ext4 root on a partition) and its xfs-lvm variant (XFS root and
# home on LVM, XFS /boot). Packer runs the sources in parallel: two TCG
# guests share the cores, so each gets twice the default ssh_timeout.
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

variable "xfs_lvm_image" {
  type = string
}

variable "xfs_lvm_checksum" {
  type = string
}

source "maas-rootfs" "ext4" {
  image_url         = var.image
  image_checksum    = var.checksum
  accelerator       = "tcg"
  output_directory  = "output-ext4"
  compression_level = 1
  ssh_timeout       = "20m"
}

source "maas-rootfs" "xfslvm" {
  image_url         = var.xfs_lvm_image
  image_checksum    = var.xfs_lvm_checksum
  accelerator       = "tcg"
  output_directory  = "output-xfslvm"
  compression_level = 1
  ssh_timeout       = "20m"
}

build {
  sources = ["source.maas-rootfs.ext4", "source.maas-rootfs.xfslvm"]

  provisioner "shell" {
    inline = [
      "echo provisioned by $(id -un) | sudo tee /etc/e2e-marker",
      # What the guest mounted, for the test to read in the image.
      "findmnt -no TARGET,SOURCE,FSTYPE / | sudo tee /etc/e2e-mounts",
      "findmnt -no TARGET,SOURCE,FSTYPE /boot | sudo tee -a /etc/e2e-mounts || true",
      "findmnt -no TARGET,SOURCE,FSTYPE /home | sudo tee -a /etc/e2e-mounts || true",
      "awk 'NR > 1 { print \"swap\", $1 }' /proc/swaps | sudo tee -a /etc/e2e-mounts",
    ]
  }
}
