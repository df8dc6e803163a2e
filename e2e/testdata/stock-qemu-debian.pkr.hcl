# The stock qemu builder (bundled with Packer 1.9.4) booting the test cloud
# image the way packer-maas's templates do: a backing file, UEFI, TCG, a
# NoCloud seed from seed/, a non-root SSH user with passwordless sudo. The
# curtin-hook tests log in with a key, the benchmark's packer-maas baseline
# with a password, as packer-maas does.
#
# Debian's cloud kernel has no AHCI/IDE driver, so the seed ISO that
# cd_files makes must reach the guest as a virtio disk. The builder's
# cdrom_interface = "virtio-scsi" adds a device QEMU rejects (it cannot
# place virtio-scsi-device on q35), and "virtio" collides with the system
# disk's index 0; "none" only defines the drive (id cdrom0), which the
# qemuargs below attach as virtio-blk. A -device in qemuargs replaces the
# builder's default devices, all but the network card, which the builder
# adds back itself.

variable "image" {
  type = string
}

variable "image_sha256" {
  type = string
}

variable "ssh_private_key_file" {
  type    = string
  default = null
}

variable "ssh_password" {
  type      = string
  default   = null
  sensitive = true
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

  communicator         = "ssh"
  ssh_username         = "builder"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_password         = var.ssh_password
  ssh_timeout          = "15m"
  shutdown_command     = "sudo -n shutdown -P now"
}
