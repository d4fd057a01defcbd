# Which credential Packer's azure plugin uses, chosen from the environment the CI gives it. Nothing secret is
# written here or passed on a command line: tokens come from the environment or from a file named there.
#
#   GitHub Actions (OIDC)      ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN (permissions:
#                              id-token: write), ARM_CLIENT_ID, ARM_TENANT_ID: the plugin asks GitHub for a fresh
#                              ID token whenever it needs one, so a bake may run past an hour.
#   Jenkins workload identity  AZURE_FEDERATED_TOKEN_FILE (+ AZURE_CLIENT_ID, AZURE_TENANT_ID, as the AKS webhook
#                              sets them): the file's JWT is the client assertion (client_jwt).
#   service principal secret   ARM_CLIENT_ID + ARM_CLIENT_SECRET (+ ARM_TENANT_ID).
#   Azure CLI                  none of the above: `az login` on the machine.

variable "oidc_request_url" {
  type        = string
  default     = env("ACTIONS_ID_TOKEN_REQUEST_URL")
  sensitive   = true
  description = "GitHub Actions: where the plugin asks for an ID token (ACTIONS_ID_TOKEN_REQUEST_URL)."
}

variable "oidc_request_token" {
  type        = string
  default     = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
  sensitive   = true
  description = "GitHub Actions: the bearer token for that request (ACTIONS_ID_TOKEN_REQUEST_TOKEN)."
}

variable "federated_token_file" {
  type        = string
  default     = env("AZURE_FEDERATED_TOKEN_FILE")
  description = "Workload identity: the file holding the federated JWT (a path, not a secret)."
}

variable "azure_client_id" {
  type        = string
  default     = env("AZURE_CLIENT_ID")
  description = "Workload identity: the client id the AKS webhook sets; used when ARM_CLIENT_ID is empty."
}

variable "azure_tenant_id" {
  type        = string
  default     = env("AZURE_TENANT_ID")
  description = "Workload identity: the tenant id the AKS webhook sets; used when ARM_TENANT_ID is empty."
}

locals {
  auth_mode = (var.oidc_request_token != "" && var.oidc_request_url != "" ? "oidc" :
    (var.federated_token_file != "" ? "federated-jwt" :
  (var.client_secret != "" ? "client-secret" : "azure-cli")))
  auth_client_id = var.client_id != "" ? var.client_id : var.azure_client_id
  auth_tenant_id = var.tenant_id != "" ? var.tenant_id : var.azure_tenant_id
  # file() of an empty path would fail even when the mode is not federated-jwt: read /dev/null instead.
  auth_client_jwt = trimspace(file(var.federated_token_file != "" ? var.federated_token_file : "/dev/null"))
}
