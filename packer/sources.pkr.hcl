# The local cloud's image: a tarball made by the null source. The Azure build is packer/azure (a current Packer
# with the azure plugin); this directory stays valid for Packer 1.6.6. See README.md, "Packer versions".

packer {
  required_version = ">= 1.6.6"
}

locals {
  # Where the local source stages the image's filesystem before it is tarred.
  staging_dir   = "${var.output_dir}/staging/${var.image_version}"
  local_image   = "${var.output_dir}/${var.image_version}.tar.gz"
}

source "null" "local" {
  communicator = "none"
}
