"""Microsoft.Network: virtual networks, public IPs, load balancers (control plane); runtime/ forwards traffic."""
