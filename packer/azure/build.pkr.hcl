# The Azure build: select it with -only=app.azure-arm.ubuntu (the same selector as before the split).

build {
  name = "app"

  sources = ["source.azure-arm.ubuntu"]

  provisioner "shell" {
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
    execute_command = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E sh '{{ .Path }}'"
    inline = [
      "/usr/sbin/waagent -force -deprovision+user && export HISTSIZE=0 && sync",
    ]
    skip_clean = true
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
