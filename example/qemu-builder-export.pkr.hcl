# A RHEL-family image built the way packer-maas's rocky9, alma9, rhel9, ...
# templates build theirs: the stock qemu builder installs from the boot ISO
# with a kickstart served by Packer's HTTP server (http/ks.cfg). Instead of
# packer-maas's root-only export script (qemu-nbd, nbdfuse, fuse2fs, tar,
# pigz) and a manual `maas boot-resources create`, maas-export turns the
# disk into a MAAS tarball without root and maas-upload sends it to MAAS.
#
#   MAAS_URL=http://maas.example:5240/MAAS MAAS_API_KEY=... \
#     packer build qemu-builder-export.pkr.hcl
#
# Add `-except=maas-upload` to only write output/rocky9.tar.gz.
packer {
  required_plugins {
    maas = {
      source  = "github.com/c34478be/maas"
      version = ">= 0.1.0"
    }
    # Packer 1.9 bundles the qemu builder; 1.10 and newer install it with
    # `packer init` from this requirement.
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = ">= 1.0.9"
    }
  }
}

variable "iso_url" {
  type        = string
  default     = "https://download.rockylinux.org/pub/rocky/9/isos/x86_64/Rocky-x86_64-boot.iso"
  description = "The installer ISO (a network-install boot ISO is enough: packages come from the mirrors in http/ks.cfg)."
}

variable "iso_checksum" {
  type        = string
  default     = "file:https://download.rockylinux.org/pub/rocky/9/isos/x86_64/CHECKSUM"
  description = "The ISO's checksum, or file:URL of a checksum file listing it."
}

variable "accelerator" {
  type        = string
  default     = "kvm"
  description = "QEMU accelerator: kvm, or tcg where KVM does not work (about ten times slower)."
}

variable "timeout" {
  type        = string
  default     = "1h"
  description = "How long the unattended install may take before the build fails (packer-maas's TIMEOUT)."
}

variable "name" {
  type        = string
  default     = "custom/rocky9"
  description = "The image's name in MAAS."
}

source "qemu" "rocky9" {
  iso_url      = var.iso_url
  iso_checksum = var.iso_checksum

  machine_type      = "q35"
  accelerator       = var.accelerator
  cpus              = 2
  memory            = 2048
  disk_size         = "8G"
  disk_interface    = "virtio"
  net_device        = "virtio-net"
  format            = "qcow2"
  headless          = true
  efi_firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.fd"
  efi_firmware_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
  output_directory  = "output/rocky9"
  vm_name           = "disk.qcow2"

  # The boot ISO's GRUB menu: select "Install Rocky Linux 9", open its
  # entry, append the kickstart location to the kernel line and boot it.
  http_directory = "http"
  boot_wait      = "5s"
  boot_command = [
    "<up><wait>e<wait>",
    "<down><down><end>",
    " inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg",
    "<leftCtrlOn>x<leftCtrlOff>",
  ]

  # The kickstart powers the VM off when the install ends; no SSH needed.
  communicator     = "none"
  shutdown_timeout = var.timeout
}

build {
  sources = ["source.qemu.rocky9"]

  post-processors {
    post-processor "maas-export" {
      output = "output/rocky9.tar.gz"
      # Your own curtin hook, if the image needs one (packer-maas copied a
      # curtin/ directory into the root filesystem):
      # include {
      #   source      = "curtin/curtin-hooks"
      #   destination = "/curtin/curtin-hooks"
      #   mode        = "0750"
      # }
    }
    # maas_url and api_key default to MAAS_URL and MAAS_API_KEY; filetype,
    # architecture, sha256 and size come from maas-export.
    post-processor "maas-upload" {
      image_name = var.name
      title      = "Rocky Linux 9 (custom)"
      base_image = "rhel/9"
    }
  }
}
