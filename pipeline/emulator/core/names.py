"""Resource names as ARM and the resource providers check them on PUT, before anything else.

Rules per path parameter (the name a PUT creates); gallery, definition and version names are checked by the
gallery handlers, which word their own errors. Codes and messages: resource groups and network resources as
Azure words them; compute names (scale sets, images) in the Compute provider's InvalidParameter style.
"""

from __future__ import annotations

import re

from .errors import ArmError

_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_NETWORK = re.compile(r"^\w(?:[\w.-]{0,78}\w)?$")   # ends with a word character ('_' included)
_COMPUTE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,%d}[A-Za-z0-9_])?$")
_SCALE_SET = re.compile(_COMPUTE.pattern % 62)
_IMAGE = re.compile(_COMPUTE.pattern % 78)
NETWORK_PARAMS = ("load_balancer", "public_ip", "virtual_network", "subnet", "pool", "network_security_group",
                  "security_rule")


def check(params: dict[str, str], name_param: str | None) -> None:
    """Raise the ARM error for an invalid name in the path parameter `name_param` (the resource written)."""
    if not name_param or name_param not in params:
        return
    name = params[name_param]
    if name_param == "resource_group":
        if not _GROUP.match(name) or name.endswith("."):
            bad = "".join(sorted({c for c in name if not (c.isalnum() or c in "-._()")}))
            why = (f"has these invalid characters: '{bad}'" if bad
                   else "is longer than 90 characters or ends with '.'")
            raise ArmError(f"The provided resource group name '{name}' {why}. The name can only be a letter, "
                           f"digit, '-', '.', '(', ')' or '_', up to 90 characters, not ending in '.'.",
                           code="InvalidResourceGroup")
    elif name_param in NETWORK_PARAMS:
        if not _NETWORK.match(name):
            raise ArmError(f"Resource name {name} is invalid. The name can be up to 80 characters long. It must "
                           f"begin with a word character, and it must end with a word character or with '_'. The "
                           f"name may contain word characters or '.', '-', '_'.", code="InvalidResourceName")
    elif name_param in ("vmss", "image"):
        pattern, limit = (_SCALE_SET, 64) if name_param == "vmss" else (_IMAGE, 80)
        if not pattern.match(name):
            target = "vmScaleSetName" if name_param == "vmss" else "imageName"
            raise ArmError(f"The resource name '{name}' is invalid. It can be up to {limit} characters long, "
                           f"contain letters, digits, '_', '.' and '-', and must begin and end with a letter, "
                           f"digit or '_'.", code="InvalidParameter", details=[{"target": target}])
