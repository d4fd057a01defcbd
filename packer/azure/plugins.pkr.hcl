# Packer and the azure plugin this build needs: `packer init packer/azure` installs the pinned plugin.
# Packer 1.6.6 cannot read this block (it predates plugins): see packer/README.md, "Packer versions".

packer {
  required_version = ">= 1.10.0"
  required_plugins {
    azure = {
      source  = "github.com/hashicorp/azure"
      version = "= 2.6.4"
    }
  }
}
