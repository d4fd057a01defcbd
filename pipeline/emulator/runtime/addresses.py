"""The loopback address plan: every frontend and every instance gets its own 127.x.y.z.

Linux routes all of 127.0.0.0/8 to the loopback interface, so each address can be bound without set-up.
Frontends (public IPs): 127.<block>.0.1 .. 127.<block>.255.254; instances: 127.<block+1>.0.1 .. likewise.
"""

from __future__ import annotations

import ipaddress


class AddressPool:
    def __init__(self, second_octet: int):
        if not 1 <= second_octet <= 254:
            raise ValueError("loopback block must be between 1 and 253")
        self._network = ipaddress.ip_network(f"127.{second_octet}.0.0/16")
        self._used: set[str] = set()

    def allocate(self) -> str:
        for host in self._network.hosts():
            address = str(host)
            if address not in self._used and not address.endswith(".0") and not address.endswith(".255"):
                self._used.add(address)
                return address
        raise RuntimeError(f"no free address left in {self._network}")

    def claim(self, address: str) -> None:
        """Mark an address used again (state reloaded after a restart)."""
        self._used.add(address)

    def release(self, address: str | None) -> None:
        self._used.discard(address or "")

    def clear(self) -> None:
        self._used.clear()


class AddressPlan:
    def __init__(self, block: int):
        self.frontends = AddressPool(block)
        self.instances = AddressPool(block + 1)
