"""Microsoft.Resources: resource groups (the container every other resource needs)."""
