# The build's inputs, the same for the local build (packer/) and the Azure build (packer/azure, through a
# symlink): what the bake passes. Validation here is coarse because Packer 1.6.6 lacks regex();
# pipeline/bake/templates.py applies the exact Azure naming rules before Packer runs. Secrets are marked
# sensitive and must be passed as PKR_VAR_<name> environment variables, never with -var on a command line.

variable "app_version" {
  type        = string
  description = "Version of the sample app being baked, e.g. 1.4.0 or 1.4.0-rc.1+g1a2b3c4."
  validation {
    condition     = length(var.app_version) >= 1 && length(var.app_version) <= 64 && length(split(" ", var.app_version)) == 1 && length(split("\"", var.app_version)) == 1
    error_message = "The app_version must be 1-64 characters of letters, digits, '.', '_', '+' or '-', starting with a letter or digit."
  }
}

variable "app_package_url" {
  type        = string
  sensitive   = true
  description = "Read-only (SAS) URL of the app package .tar.gz; http(s):// or file://. Pass as PKR_VAR_app_package_url."
  validation {
    condition     = substr(var.app_package_url, 0, 8) == "https://" || substr(var.app_package_url, 0, 7) == "http://" || substr(var.app_package_url, 0, 7) == "file://"
    error_message = "The app_package_url must start with https://, http:// or file://."
  }
}

variable "app_package_sha256" {
  type        = string
  default     = ""
  description = "Expected sha256 of the app package (64 hex characters); empty skips the check."
  validation {
    condition     = var.app_package_sha256 == "" || (length(var.app_package_sha256) == 64 && lower(var.app_package_sha256) == var.app_package_sha256)
    error_message = "The app_package_sha256 must be empty or 64 lower-case hex characters."
  }
}

variable "image_version" {
  type        = string
  description = "Gallery image version MAJOR.MINOR.PATCH; also names the local image tarball."
  validation {
    condition     = length(split(".", var.image_version)) == 3 && lower(var.image_version) == upper(var.image_version)
    error_message = "The image_version must be MAJOR.MINOR.PATCH with numbers only, e.g. 1.4.0."
  }
}

variable "fingerprint" {
  type        = string
  default     = "unset"
  description = "Content fingerprint of the bake inputs (pipeline.bake.fingerprint), recorded in the manifest."
}

variable "output_dir" {
  type        = string
  default     = "output"
  description = "Where the manifest (packer-manifest.json) and the local image tarball are written."
}
