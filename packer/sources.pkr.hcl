# The two places an image is baked: real Azure, and the local cloud (a tarball).

packer {
  required_version = ">= 1.6.6"
}

locals {
  # Where the local source stages the image's filesystem before it is tarred.
  staging_dir   = "${var.output_dir}/staging/${var.image_version}"
  local_image   = "${var.output_dir}/${var.image_version}.tar.gz"
  managed_image = var.managed_image_name != "" ? var.managed_image_name : "app-${replace(var.image_version, ".", "-")}"
  image_tags = merge(var.tags, {
    app_version   = var.app_version
    image_version = var.image_version
    fingerprint   = var.fingerprint
    built_by      = "packer"
  })
}

source "azure-arm" "ubuntu" {
  # Credentials: a service principal from ARM_CLIENT_ID / ARM_CLIENT_SECRET / ARM_TENANT_ID,
  # else the Azure CLI login. Nothing secret is written in this file.
  subscription_id    = var.subscription_id
  tenant_id          = var.tenant_id == "" ? null : var.tenant_id
  client_id          = var.client_id == "" ? null : var.client_id
  client_secret      = var.client_secret == "" ? null : var.client_secret
  use_azure_cli_auth = var.client_id == ""

  location = var.location
  vm_size  = var.vm_size

  os_type         = "Linux"
  image_publisher = "Canonical"
  image_offer     = "0001-com-ubuntu-server-jammy"
  image_sku       = "22_04-lts-gen2"
  image_version   = "latest"

  managed_image_name                = local.managed_image
  managed_image_resource_group_name = var.resource_group

  shared_image_gallery_destination {
    subscription        = var.subscription_id
    resource_group      = var.resource_group
    gallery_name        = var.gallery_name
    image_name          = var.image_definition
    image_version       = var.image_version
    replication_regions = distinct(concat([var.location], var.replication_regions))
  }

  azure_tags = local.image_tags
}

source "null" "local" {
  communicator = "none"
}
