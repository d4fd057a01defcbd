# One named build: select a source with -only=app.azure-arm.ubuntu or -only=app.null.local.

build {
  name = "app"

  sources = [
    "source.azure-arm.ubuntu",
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

  # ---- Azure: the same install script on the build VM, then generalize ----
  provisioner "shell" {
    only             = ["azure-arm.ubuntu"]
    script           = "${path.root}/scripts/install-app.sh"
    use_env_var_file = true
    execute_command  = "chmod +x {{ .Path }}; sudo sh -c '. {{ .EnvVarFile }} && {{ .Path }}'"
    environment_vars = [
      "ROOT=/",
      "APP_VERSION=${var.app_version}",
      "APP_PACKAGE_URL=${var.app_package_url}",
      "APP_PACKAGE_SHA256=${var.app_package_sha256}",
    ]
  }

  provisioner "shell" {
    only            = ["azure-arm.ubuntu"]
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'"
    inline = [
      "/usr/sbin/waagent -force -deprovision+user && export HISTSIZE=0 && sync",
    ]
    skip_clean = true
  }

  post-processors {
    post-processor "artifice" {
      only  = ["null.local"]
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
