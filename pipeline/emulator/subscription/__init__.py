"""Subscription-level reads: the subscription itself, resource-provider registration, the VM sizes offered
per region (resource SKUs) and the regional compute quota (usages). What `invoke doctor` asks before a
first release; the control API (PUT /_emulator/subscription) changes what they answer."""
