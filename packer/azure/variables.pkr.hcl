# Input variables of the Azure build only (the shared inputs are in inputs.pkr.hcl, a link to
# packer/inputs.pkr.hcl). Secrets are marked sensitive and come from the environment, never a command line.

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
