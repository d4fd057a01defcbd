# The Azure image: a build VM from the base image, published straight to the Azure Compute Gallery (no managed
# image is made, so none is left behind per bake), replicated to the target regions.

locals {
  image_tags = merge(var.tags, {
    app_version   = var.app_version
    image_version = var.image_version
    fingerprint   = var.fingerprint
    built_by      = "packer"
  })
}

source "azure-arm" "ubuntu" {
  subscription_id    = var.subscription_id
  tenant_id          = local.auth_mode == "azure-cli" || local.auth_tenant_id == "" ? null : local.auth_tenant_id
  client_id          = local.auth_mode == "azure-cli" ? null : local.auth_client_id
  client_secret      = local.auth_mode == "client-secret" ? var.client_secret : null
  client_jwt         = local.auth_mode == "federated-jwt" ? local.auth_client_jwt : null
  oidc_request_url   = local.auth_mode == "oidc" ? var.oidc_request_url : null
  oidc_request_token = local.auth_mode == "oidc" ? var.oidc_request_token : null
  use_azure_cli_auth = local.auth_mode == "azure-cli"

  location = var.location
  vm_size  = var.vm_size

  os_type         = "Linux"
  image_publisher = var.base_image.publisher
  image_offer     = var.base_image.offer
  image_sku       = var.base_image.sku
  image_version   = "latest"

  shared_image_gallery_destination {
    subscription   = var.subscription_id
    resource_group = var.resource_group
    gallery_name   = var.gallery_name
    image_name     = var.image_definition
    image_version  = var.image_version
    # One storage type for the version (the plugin's target_region blocks take name and replicas); the pipeline
    # checks all image.target_regions share it. Azure never lets it change once the version exists.
    storage_account_type = length(var.target_regions) > 0 ? var.target_regions[0].storage_account_type : "Standard_LRS"

    dynamic "target_region" {
      for_each = var.target_regions
      content {
        name     = target_region.value.name
        replicas = target_region.value.replicas
      }
    }
  }

  azure_tags = local.image_tags
}
