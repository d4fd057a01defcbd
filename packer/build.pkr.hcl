# One named build: -only=app.null.local (the Azure build, app.azure-arm.ubuntu, is in packer/azure).

build {
  name = "app"

  sources = [
    "source.null.local",
  ]

  # ---- local cloud: install into a staging dir, then write image.json and tar it ----
  provisioner "shell-local" {
    only = ["null.local"]
    inline = ["rm -rf '${local.staging_dir}' && mkdir -p '${local.staging_dir}'"]
  }

  provisioner "shell-local" {
    only   = ["null.local"]
    script = "${path.root}/scripts/install-app.sh"
    # The package URL is a secret: the script reads it from PKR_VAR_app_package_url,
    # which Packer's own environment already carries, so it is never on a command line.
    environment_vars = [
      "ROOT=${local.staging_dir}",
      "APP_VERSION=${var.app_version}",
      "APP_PACKAGE_SHA256=${var.app_package_sha256}",
    ]
  }

  provisioner "shell-local" {
    only   = ["null.local"]
    script = "${path.root}/scripts/package-local-image.sh"
    environment_vars = [
      "STAGING_DIR=${local.staging_dir}",
      "IMAGE_FILE=${local.local_image}",
      "APP_VERSION=${var.app_version}",
    ]
  }

  post-processors {
    post-processor "artifice" {
      files = [local.local_image]
    }
    post-processor "manifest" {
      output     = "${var.output_dir}/packer-manifest.json"
      strip_path = false
      custom_data = {
        app_version   = var.app_version
        image_version = var.image_version
        fingerprint   = var.fingerprint
      }
    }
  }
}
