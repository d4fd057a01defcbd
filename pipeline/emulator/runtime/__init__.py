"""What makes the local cloud real: instance processes, load-balancer listeners and probes, loopback addresses."""
