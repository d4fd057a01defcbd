# Input variables of the Azure build (packer/azure). The first block repeats packer/variables.pkr.hcl's
# inputs; tests/unit/test_bake_templates.py checks the two stay the same. Validation here is coarse because Packer 1.6.6 lacks
# regex(); pipeline/bake/templates.py applies the exact Azure naming rules before Packer runs.
# Secrets are marked sensitive and must be
# passed as PKR_VAR_<name> environment variables, never with -var on a command line.

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

# ---- Azure ----------------------------------------------------------------------------------------

variable "subscription_id" {
  type        = string
  default     = env("ARM_SUBSCRIPTION_ID")
  description = "Azure subscription for the build VM and the gallery."
}

variable "tenant_id" {
  type        = string
  default     = env("ARM_TENANT_ID")
  description = "Azure AD tenant; empty lets the Azure CLI login decide."
}

variable "client_id" {
  type        = string
  default     = env("ARM_CLIENT_ID")
  description = "Service principal id; when empty the Azure CLI login is used (use_azure_cli_auth)."
}

variable "client_secret" {
  type        = string
  default     = env("ARM_CLIENT_SECRET")
  sensitive   = true
  description = "Service principal secret; read from ARM_CLIENT_SECRET, never written in a file."
}

variable "location" {
  type        = string
  default     = "westeurope"
  description = "Azure region of the build VM and the managed image."
}

variable "resource_group" {
  type        = string
  default     = "rg-pipeline-images"
  description = "Resource group that holds the managed image and the gallery."
  validation {
    condition     = length(var.resource_group) >= 1 && length(var.resource_group) <= 90 && substr(var.resource_group, -1, 1) != "."
    error_message = "The resource_group must be 1-90 letters, digits, '-', '_', '.', '(' or ')' and not end with '.'."
  }
}

variable "gallery_name" {
  type        = string
  default     = "pipeline_gallery"
  description = "Azure Compute Gallery name (alphanumerics, '_' and '.')."
  validation {
    condition     = length(var.gallery_name) >= 1 && length(var.gallery_name) <= 80 && length(split("-", var.gallery_name)) == 1
    error_message = "The gallery_name must be 1-80 letters, digits, '_' or '.', starting and ending with a letter or digit."
  }
}

variable "image_definition" {
  type        = string
  default     = "app-ubuntu-2204"
  description = "Gallery image definition (must already exist in the gallery)."
  validation {
    condition     = length(var.image_definition) >= 1 && length(var.image_definition) <= 80 && length(split(" ", var.image_definition)) == 1
    error_message = "The image_definition must be 1-80 letters, digits, '_', '-' or '.', starting and ending with a letter or digit."
  }
}

variable "target_regions" {
  type = list(object({
    name                 = string
    replicas             = number
    storage_account_type = string
  }))
  default     = []
  description = "Where the version is replicated (pipeline.toml image.target_regions, which include location)."
}

variable "base_image" {
  type = object({
    publisher = string
    offer     = string
    sku       = string
  })
  default = {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-server-jammy"
    sku       = "22_04-lts-gen2"
  }
  description = "The marketplace image the build VM starts from; the image definition's sku names it."
}

variable "vm_size" {
  type        = string
  default     = "Standard_B2s"
  description = "Size of the temporary build VM."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Extra tags for the build resources and the image."
}
