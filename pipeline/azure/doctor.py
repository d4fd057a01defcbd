"""The reads of `invoke doctor` (read-only; the only SDK calls it makes), turned into the plain facts of
pipeline/doctor/facts.py. A failed read becomes a ReadError in place of its value; nothing here decides.

Reads, in order: a token for ARM; the subscription; the providers Compute, Network and Storage; the caller's
permissions on the resource group; the region's VM sizes (resource SKUs) and compute usages; the pipeline's
own scale sets in the region; the NSG on the app subnet; the gallery, image definition and image versions;
the ledger and packages containers; the load balancer. When no token can be had, nothing else is read.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from pipeline.azure.clients import ARM_SCOPE, Clients
from pipeline.azure.errors import code_of, message_of, status_of
from pipeline.doctor.facts import (Facts, FleetUse, GalleryFacts, ImageDefinitionFacts, ImageVersionFacts,
                                   LoadBalancerFacts, NatFacts, NsgFacts, NsgRuleFacts, PackerFacts,
                                   PermissionFacts, ReadError, RuleFacts, SkuFacts, SubscriptionFacts, UsageFacts)
from pipeline.doctor.wanted import PROVIDERS

log = logging.getLogger(__name__)

T = TypeVar("T")
MANAGED_BY = "bluegreen-pipeline"


def _read(what: str, call: Callable[[], T]) -> T | ReadError:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    try:
        return call()
    except HttpResponseError as err:
        log.debug("%s: %s %s", what, status_of(err), code_of(err))
        return ReadError(what, status_of(err), code_of(err), message_of(err))
    except (ServiceRequestError, ServiceResponseError) as err:
        return ReadError(what, None, type(err).__name__, "could not reach the endpoint")


def _token(clients: Clients) -> ReadError | None:
    from azure.core.exceptions import ClientAuthenticationError

    try:
        clients.credential.get_token(ARM_SCOPE)
    except (ClientAuthenticationError, ValueError) as err:
        return ReadError("getting a token for Azure Resource Manager", None, type(err).__name__,
                         " ".join(str(err).split())[:300])
    return None


def _text(value: Any, default: str = "") -> str:
    """An SDK enum or string as Azure spells it ("Enabled", not "SubscriptionState.ENABLED")."""
    if value is None:
        return default
    return str(getattr(value, "value", value))


def _name(resource_id: str | None) -> str | None:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else None


def _tuple(*values: Any) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value:
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out += [str(v) for v in value if v]
    return tuple(out)


# --- the subscription, its providers, permissions ------------------------------------------------------------
def subscription(clients: Clients) -> SubscriptionFacts | ReadError:
    def get() -> SubscriptionFacts:
        s = clients.subscriptions.subscriptions.get(clients.subscription_id)
        return SubscriptionFacts(s.subscription_id or clients.subscription_id, s.display_name or "",
                                 _text(s.state, "unknown"))
    return _read(f"reading subscription {clients.subscription_id}", get)


def providers(clients: Clients) -> dict[str, str] | ReadError:
    states: dict[str, str] = {}
    for namespace in PROVIDERS:
        found = _read(f"reading provider {namespace}", lambda: clients.resources.providers.get(namespace))
        if isinstance(found, ReadError):
            return found
        states[found.namespace or namespace] = _text(found.registration_state, "unknown")
    return states


def permissions(clients: Clients) -> tuple[PermissionFacts, ...] | ReadError:
    rg = clients.settings.resource_group
    return _read(f"reading the caller's permissions on resource group {rg}", lambda: tuple(
        PermissionFacts(tuple(p.actions or ()), tuple(p.not_actions or ()), tuple(p.data_actions or ()),
                        tuple(p.not_data_actions or ()))
        for p in clients.authorization.permissions.list_for_resource_group(rg)))


# --- sizes, quota, fleets --------------------------------------------------------------------------------------
def _sku(s) -> SkuFacts:
    caps = {c.name: c.value for c in (s.capabilities or [])}
    try:
        vcpus = int(caps.get("vCPUs") or 0) or None
    except ValueError:
        vcpus = None
    restrictions = tuple((_text(r.reason_code), _text(r.type), tuple(r.as_dict().get("values") or ()))
                         for r in (s.restrictions or []))
    return SkuFacts(s.name or "", s.family or "", vcpus, tuple(s.locations or ()), restrictions,
                    tuple(g.strip() for g in (caps.get("HyperVGenerations") or "").split(",") if g.strip()),
                    str(caps.get("TrustedLaunchDisabled", "False")).lower() == "true")


def skus(clients: Clients) -> tuple[SkuFacts, ...] | ReadError:
    location = clients.settings.location
    return _read(f"listing the VM sizes of {location}", lambda: tuple(
        _sku(s) for s in clients.compute.resource_skus.list(filter=f"location eq '{location}'")
        if (s.resource_type or "").lower() == "virtualmachines"))


def usages(clients: Clients) -> tuple[UsageFacts, ...] | ReadError:
    location = clients.settings.location
    return _read(f"reading the compute quota of {location}", lambda: tuple(
        UsageFacts(u.name.value or "", u.name.localized_value or u.name.value or "", int(u.current_value or 0),
                   int(u.limit or 0))
        for u in clients.compute.usage.list(location)))


def fleets(clients: Clients) -> tuple[FleetUse, ...] | ReadError:
    s = clients.settings
    return _read(f"listing the scale sets of {s.resource_group}", lambda: tuple(
        FleetUse(v.name, v.sku.name if v.sku else "", int(v.sku.capacity or 0) if v.sku else 0)
        for v in clients.compute.virtual_machine_scale_sets.list(s.resource_group)
        if (v.tags or {}).get("managed-by") == MANAGED_BY and (v.location or "").lower() == s.location.lower()))


# --- network ----------------------------------------------------------------------------------------------------
def _nsg(n) -> NsgFacts:
    rules = []
    for r in list(n.security_rules or []) + list(n.default_security_rules or []):
        rules.append(NsgRuleFacts(r.name or "", int(r.priority or 0), _text(r.direction), _text(r.access),
                                  _text(r.protocol, "*"), _tuple(r.source_address_prefix, r.source_address_prefixes),
                                  _tuple(r.destination_port_range, r.destination_port_ranges)))
    return NsgFacts(n.name or "", tuple(rules))


def _nic_nsg_ids(clients: Clients) -> list[str]:
    """NSGs on the NIC configurations of the pipeline's scale sets (a flow passes the subnet's, then these)."""
    s = clients.settings
    ids: list[str] = []
    for v in clients.compute.virtual_machine_scale_sets.list(s.resource_group):
        if (v.tags or {}).get("managed-by") != MANAGED_BY:
            continue
        profile = v.virtual_machine_profile.network_profile if v.virtual_machine_profile else None
        for nic in (profile.network_interface_configurations or []) if profile else []:
            ref = nic.network_security_group.id if nic.network_security_group else None
            if ref and ref.lower() not in (i.lower() for i in ids):
                ids.append(ref)
    return ids


def nsgs(clients: Clients) -> tuple[NsgFacts, ...] | ReadError:
    """The NSG on the app subnet, then those on the fleets' NIC configurations (empty when there is none)."""
    s = clients.settings
    subnet = _read(f"reading subnet {s.network.vnet}/{s.network.subnet}",
                   lambda: clients.network.subnets.get(s.resource_group, s.network.vnet, s.network.subnet))
    if isinstance(subnet, ReadError):
        return subnet
    on_subnet = subnet.network_security_group.id if subnet.network_security_group else None
    if not on_subnet:
        return ()
    nic_ids = _read(f"listing the scale sets of {s.resource_group}", lambda: _nic_nsg_ids(clients))
    if isinstance(nic_ids, ReadError):
        return nic_ids
    found: list[NsgFacts] = []
    for ref in [on_subnet] + [i for i in nic_ids if i.lower() != on_subnet.lower()]:
        parts = ref.split("/")
        lowered = [p.lower() for p in parts]
        group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else s.resource_group
        nsg = _read(f"reading network security group {_name(ref)}",
                    lambda: clients.network.network_security_groups.get(group, _name(ref)))
        if isinstance(nsg, ReadError):
            return nsg
        found.append(_nsg(nsg))
    return tuple(found)


def _nat(start, end, backend, pool=None) -> NatFacts:
    return NatFacts(start, end, backend, pool)


def load_balancer(clients: Clients) -> LoadBalancerFacts | ReadError:
    s = clients.settings

    def get() -> LoadBalancerFacts:
        lb = clients.network.load_balancers.get(s.resource_group, s.load_balancer.name)
        rules = {r.name: RuleFacts(r.frontend_port, r.backend_port,
                                   _name(r.backend_address_pool.id) if r.backend_address_pool else None,
                                   _name(r.probe.id) if r.probe else None)
                 for r in (lb.load_balancing_rules or [])}
        probes = {p.name: (_text(p.protocol), p.port, p.request_path) for p in (lb.probes or [])}
        nat_pools = {p.name: _nat(p.frontend_port_range_start, p.frontend_port_range_end, p.backend_port)
                     for p in (lb.inbound_nat_pools or [])}
        nat_rules = {r.name: _nat(r.frontend_port_range_start, r.frontend_port_range_end, r.backend_port,
                                  _name(r.backend_address_pool.id))
                     for r in (lb.inbound_nat_rules or []) if r.backend_address_pool is not None}
        return LoadBalancerFacts(lb.name or s.load_balancer.name, _text(lb.sku.name if lb.sku else None, "Basic"),
                                 frozenset(p.name for p in (lb.backend_address_pools or [])), rules, probes,
                                 nat_pools, nat_rules)
    return _read(f"reading load balancer {s.load_balancer.name}", get)


# --- gallery ----------------------------------------------------------------------------------------------------
def image_definition(clients: Clients) -> ImageDefinitionFacts | ReadError:
    s = clients.settings

    def get() -> ImageDefinitionFacts:
        d = clients.compute.gallery_images.get(s.resource_group, s.image.gallery, s.image.definition)
        features = {(f.name or "").lower(): f.value for f in (d.features or [])}
        return ImageDefinitionFacts(d.name or s.image.definition, _text(d.hyper_v_generation, "V1"),
                                    features.get("securitytype"))
    return _read(f"reading image definition {s.image.gallery}/{s.image.definition}", get)


def gallery(clients: Clients) -> GalleryFacts | ReadError:
    s = clients.settings
    found = _read(f"reading gallery {s.image.gallery}",
                  lambda: clients.compute.galleries.get(s.resource_group, s.image.gallery))
    if isinstance(found, ReadError):
        return found
    versions = _read(f"listing the versions of {s.image.gallery}/{s.image.definition}", lambda: tuple(
        ImageVersionFacts(v.name, tuple(t.name for t in (v.publishing_profile.target_regions or [])
                                        if t.name) if v.publishing_profile else ())
        for v in clients.compute.gallery_image_versions.list_by_gallery_image(
            s.resource_group, s.image.gallery, s.image.definition)))
    if isinstance(versions, ReadError):
        if not versions.missing:        # a missing definition is the image-definition check's finding
            return versions
        versions = ()
    return GalleryFacts(found.name or s.image.gallery, found.location or "", versions)


# --- storage ----------------------------------------------------------------------------------------------------
def container_exists(clients: Clients, name: str) -> bool | ReadError:
    """Lists at most one blob: List Blobs needs only the role's data action containers/blobs/read (Get Container
    Properties would need containers/read, which the role does not hold). A missing container is 404."""
    from azure.core.exceptions import ResourceNotFoundError

    def get() -> bool:
        try:
            pages = clients.blob.get_container_client(name).list_blobs(results_per_page=1).by_page()
            next(pages, None)
            return True
        except ResourceNotFoundError:
            return False
    return _read(f"listing container {name}", get)


def read_facts(clients: Clients, *, packer: PackerFacts | None = None) -> Facts:
    """Every fact doctor needs, read-only. Without a token nothing else is read."""
    token = _token(clients)
    if token is not None:
        return Facts(credential=token, packer=packer)
    sub = subscription(clients)
    if isinstance(sub, ReadError) and sub.status in (None, 401):
        return Facts(subscription=sub, packer=packer)
    s = clients.settings
    return Facts(
        subscription=sub, providers=providers(clients), permissions=permissions(clients), skus=skus(clients),
        usages=usages(clients), fleets=fleets(clients), nsgs=nsgs(clients),
        image_definition=image_definition(clients), gallery=gallery(clients),
        containers={c: container_exists(clients, c) for c in (s.storage.ledger_container,
                                                              s.storage.packages_container)},
        packer=packer, load_balancer=load_balancer(clients))
