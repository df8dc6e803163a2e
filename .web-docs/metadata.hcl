# Describes the plugin to the Packer integrations registry.
integration {
  name        = "MAAS"
  description = "Build MAAS custom images from cloud images, without root, and upload them to MAAS."
  identifier  = "packer/c34478be/maas"
  component {
    type = "builder"
    name = "MAAS Root Filesystem"
    slug = "rootfs"
  }
  component {
    type = "post-processor"
    name = "MAAS Export"
    slug = "export"
  }
  component {
    type = "post-processor"
    name = "MAAS Upload"
    slug = "upload"
  }
  component {
    type = "provisioner"
    name = "MAAS Curtin Hook"
    slug = "curtin-hook"
  }
}
