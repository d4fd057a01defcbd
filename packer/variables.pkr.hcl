# Input variables of the local build only (the shared inputs are in inputs.pkr.hcl).

# ---- Where the image goes (recorded for the fingerprint's placement; the null source ignores them) ----

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
