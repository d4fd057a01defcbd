"""The local cloud: an HTTPS emulator of the Azure Resource Manager operations the pipeline uses.

Scale-set instances are real processes started from the baked image, and load-balancer rules really
forward TCP traffic to the healthy members of their pool. Nothing else in `pipeline/` imports this package:
the pipeline reaches it through the Azure SDKs, like Azure. See DIVERGENCES.md for where it differs.
"""
