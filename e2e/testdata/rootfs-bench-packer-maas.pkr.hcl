# The benchmark's baseline: what packer-maas's ubuntu-cloudimg template does,
# on the qemu builder bundled with Packer 1.9.4: the cloud image as a backing
# file, a NoCloud seed, password SSH, the same provisioner as
# rootfs-bench.pkr.hcl, packer-maas's cleanup, then the root-only export
# chain (qemu-nbd, nbdfuse, fuse2fs, GNU tar, pigz -9).
#
# The VM is stock-qemu-debian.pkr.hcl's, with password SSH.

variable "export_chain" {
  type = string
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
