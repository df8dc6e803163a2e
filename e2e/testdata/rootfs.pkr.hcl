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

source "maas-rootfs" "debian" {
  image_url        = var.image
  image_checksum   = var.checksum
  accelerator      = "tcg"
  disk_size        = "3G"
  output_directory = "output"

  # Merged with the build user's cloud-config: a file, a line in
  # /etc/environment (it stands for the image's own lines, which must
  # survive the removal of the proxy lines) and a runcmd.
  user_data = <<-EOF
    #cloud-config
    write_files:
      - path: /etc/e2e-user-data
        content: "written by user_data\n"
      - path: /etc/environment
        append: true
        content: "E2E_KEPT=from-user-data\n"
    runcmd:
      - [sh, -c, "echo runcmd ran > /etc/e2e-runcmd"]
  EOF

  # Unreachable (TEST-NET-1): nothing in this build uses the network.
  http_proxy  = "http://192.0.2.1:3128"
  https_proxy = "http://192.0.2.1:3129"
  no_proxy    = "localhost,127.0.0.1,.e2e.internal"
}

build {
  sources = ["source.maas-rootfs.debian"]

  provisioner "shell" {
    inline = [
      "echo provisioned by $(id -un) | sudo tee /etc/e2e-marker",
      # What the build saw of the proxies, for the test to read in the image.
      "env | grep -i '_proxy=' | sort | sudo tee /etc/e2e-proxy-env",
      "apt-config dump | grep -i '^Acquire::https\\?::Proxy ' | sudo tee /etc/e2e-apt-proxy",
      "sudo cp /var/lib/cloud/data/result.json /etc/e2e-cloud-init-result.json",
    ]
  }

  # One package installed and one removed, without network, for the
  # change list against the cloud image: a tiny .deb the test makes, and
  # a package of the test image nothing depends on.
  provisioner "file" {
    source      = "e2e-added.deb"
    destination = "/tmp/e2e-added.deb"
    # Checked when it uploads, not at validate: the tests that stop the
    # build before the provisioners make no package.
    generated = true
  }

  provisioner "shell" {
    inline = [
      "sudo dpkg -i /tmp/e2e-added.deb",
      "rm /tmp/e2e-added.deb",
      "sudo dpkg --purge cloud-guest-utils",
    ]
  }
}
