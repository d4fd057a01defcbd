"""Azure public-cloud regions by their programmatic names, and the storage types gallery replicas can use (pure).

`az account list-locations --query "[].name"` lists the regions a subscription sees; this list is what the
pipeline accepts in `image.target_regions` (and it checks the environment's own `location` is among them). A
region missing here is refused with one line: add it when Azure opens it.
"""

from __future__ import annotations

AZURE_REGIONS = frozenset({
    "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast", "austriaeast",
    "belgiumcentral", "brazilsouth", "brazilsoutheast", "canadacentral", "canadaeast", "centralindia",
    "centralus", "chilecentral", "eastasia", "eastus", "eastus2", "francecentral", "francesouth",
    "germanynorth", "germanywestcentral", "indonesiacentral", "israelcentral", "italynorth", "japaneast",
    "japanwest", "jioindiacentral", "jioindiawest", "koreacentral", "koreasouth", "malaysiawest",
    "mexicocentral", "newzealandnorth", "northcentralus", "northeurope", "norwayeast", "norwaywest",
    "polandcentral", "qatarcentral", "southafricanorth", "southafricawest", "southcentralus", "southeastasia",
    "southindia", "spaincentral", "swedencentral", "swedensouth", "switzerlandnorth", "switzerlandwest",
    "uaecentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westindia", "westus",
    "westus2", "westus3",
})

#: publishingProfile / targetRegions[].storageAccountType values Azure accepts for gallery image versions
#: (azure-mgmt-compute 39 StorageAccountType); none of them can change once a version exists.
REPLICA_STORAGE_TYPES = ("Standard_LRS", "Standard_ZRS", "Premium_LRS", "PremiumV2_LRS")
#: The most replicas of one version Azure keeps in one region (Learn: "Azure Compute Gallery", scaling).
MAX_REPLICAS_PER_REGION = 100
