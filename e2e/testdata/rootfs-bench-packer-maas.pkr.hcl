# The benchmark's baseline: what packer-maas's ubuntu-cloudimg template does,
# on the qemu builder bundled with Packer 1.9.4: the cloud image as a backing
# file, a NoCloud seed, password SSH, the same provisioner as
# rootfs-bench.pkr.hcl, packer-maas's cleanup, then the root-only export
# chain (qemu-nbd, nbdfuse, fuse2fs, GNU tar, pigz -9).
#
# Debian's cloud kernel has no AHCI/IDE driver: the seed ISO that cd_files
# makes is attached as virtio-blk through qemuargs (cdrom_interface =
# "none" only defines the drive cdrom0), as e2e/curtinhook_test.go explains.

variable "image" {
  type = string
}

variable "image_sha256" {
  type = string
}

variable "export_chain" {
  type = string
}

source "qemu" "debian" {
  iso_url          = var.image
  iso_checksum     = "sha256:${var.image_sha256}"
  disk_image       = true
  use_backing_file = true
  skip_resize_disk = true
  format           = "qcow2"
  vm_name          = "disk.qcow2"
  output_directory = "output"

  qemu_binary       = "qemu-system-x86_64"
  accelerator       = "tcg"
  machine_type      = "q35"
  cpus              = 2
  memory            = 2048
  headless          = true
  disk_interface    = "virtio"
  net_device        = "virtio-net"
  efi_firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.fd"
  efi_firmware_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd"

  cd_files        = ["seed/user-data", "seed/meta-data"]
  cd_label        = "cidata"
  cdrom_interface = "none"
  qemuargs = [
    ["-device", "virtio-blk-pci,drive=cdrom0"],
    ["-device", "virtio-rng-pci"],
    ["-serial", "file:console.log"],
  ]

  communicator     = "ssh"
  ssh_username     = "builder"
  ssh_password     = "builder"
  ssh_timeout      = "15m"
  shutdown_command = "sudo -n shutdown -P now"
}

build {
  sources = ["source.qemu.debian"]

  provisioner "shell" {
    inline = ["echo provisioned by $(id -un) | sudo -n tee /etc/e2e-marker"]
  }

  # packer-maas's cleanup: what maas-rootfs's generalize step does.
  provisioner "shell" {
    inline = [
      "sudo -n cloud-init status --wait",
      "sudo -n cloud-init clean --logs",
      "sudo -n rm -f /etc/ssh/ssh_host_* /etc/network/interfaces.d/50-cloud-init",
      "sudo -n truncate -s 0 /etc/machine-id",
      "sudo -n apt-get clean",
    ]
  }

  post-processor "shell-local" {
    inline = ["${var.export_chain} output/disk.qcow2 1 image.tar.gz"]
  }
}
