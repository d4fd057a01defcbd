"""Turn what doctor read (Facts) and what the environment needs (Wanted) into PASS / WARN / FAIL checks,
each with a one-line fix (pure: no I/O, tested from facts alone in tests/unit/test_doctor_checks.py).

PASS: the subscription is ready for this. WARN: could not be checked (e.g. a subscription-scope read the
role assigned on the resource group cannot make) or works but deserves a look. FAIL: a release would stop
on it. `invoke doctor` exits 0 only when nothing FAILs.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from pipeline.doctor import nsgflow
from pipeline.doctor.facts import (Facts, GalleryFacts, ImageDefinitionFacts, LoadBalancerFacts, PermissionFacts,
                                   ReadError, SkuFacts, SubscriptionFacts)
from pipeline.doctor.wanted import PROVIDERS, Wanted

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"

NOT_READ = "not checked: an earlier check failed (fix that first)"
INFRA = "run `invoke infra --env {env}` (it creates what is missing and never changes what exists)"
# Security types whose image definitions accept a fleet of the given type (gallery image feature SecurityType).
ACCEPTS = {
    "TrustedLaunch": {"TrustedLaunch", "TrustedLaunchSupported", "TrustedLaunchAndConfidentialVmSupported"},
    "Standard": {None, "Standard", "TrustedLaunchSupported", "TrustedLaunchAndConfidentialVmSupported"},
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    summary: str
    fix: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary, "fix": self.fix}


def _unread(name: str, err: ReadError | None, *, forbidden_fix: str, fix: str) -> Check:
    """A check whose read failed: 403 is 'not checked' (WARN), anything else FAIL."""
    if err is None:
        return Check(name, WARN, NOT_READ)
    if err.forbidden:
        return Check(name, WARN, f"not checked: {err.describe()}", forbidden_fix)
    return Check(name, FAIL, err.describe(), fix)


SUB_READER = ("grant the pipeline's principal Reader on the subscription to let doctor check this "
              "(the release itself does not need it)")


# --- credential and subscription ------------------------------------------------------------------------------
def credential(f: Facts, w: Wanted) -> Check:
    if f.credential is None:
        how = "the local cloud's credential" if w.is_local else "DefaultAzureCredential"
        return Check("credential", PASS, f"{how} gave a token for Azure Resource Manager")
    fix = ("run `invoke local.up` (the local cloud's token is in .pipeline/local/cloud.json)" if w.is_local else
           "sign in: `az login` on a laptop; in CI workload identity (AZURE_CLIENT_ID, AZURE_TENANT_ID, "
           "AZURE_FEDERATED_TOKEN_FILE) or a service principal's AZURE_* variables")
    return Check("credential", FAIL, f.credential.describe(), fix)


def subscription(f: Facts, w: Wanted) -> Check:
    s = f.subscription
    if not isinstance(s, SubscriptionFacts):
        if isinstance(s, ReadError) and s.status == 401:
            return Check("subscription", FAIL, s.describe(),
                         "the credential was refused: sign in again, or check AZURE_TENANT_ID")
        if isinstance(s, ReadError) and s.status == 404:
            return Check("subscription", FAIL, s.describe(),
                         "check subscription_id (or PIPELINE__SUBSCRIPTION_ID) and that the principal has a role in it")
        return _unread("subscription", s, forbidden_fix=SUB_READER, fix="check the network and run again")
    said = f"{s.display_name} ({s.subscription_id}) is {s.state}"
    if s.state == "Enabled":
        return Check("subscription", PASS, said)
    if s.state in ("Warned", "PastDue"):
        return Check("subscription", WARN, said, "settle the subscription's billing before it is disabled")
    return Check("subscription", FAIL, said, "re-enable the subscription (Azure portal: Subscriptions) or use another")


# --- providers --------------------------------------------------------------------------------------------------
def providers(f: Facts, w: Wanted) -> Check:
    p = f.providers
    if not isinstance(p, dict):
        return _unread("providers", p, forbidden_fix=SUB_READER, fix="check the network and run again")
    states = {ns.lower(): state for ns, state in p.items()}
    missing = [(ns, states.get(ns.lower(), "unknown")) for ns in PROVIDERS
               if states.get(ns.lower()) != "Registered"]
    if not missing:
        return Check("providers", PASS, f"{', '.join(PROVIDERS)} are registered")
    listed = ", ".join(f"{ns} ({state})" for ns, state in missing)
    commands = "; ".join(f"az provider register --namespace {ns}" for ns, _ in missing)
    return Check("providers", FAIL, f"not registered: {listed}",
                 f"{commands} (needs */register/action on the subscription, e.g. Contributor)")


# --- permissions ------------------------------------------------------------------------------------------------
def _granted(entries: tuple[PermissionFacts, ...], action: str, *, data: bool) -> bool:
    a = action.lower()
    for e in entries:
        allow, deny = (e.data_actions, e.not_data_actions) if data else (e.actions, e.not_actions)
        if any(fnmatch.fnmatchcase(a, pattern.lower()) for pattern in allow) and \
                not any(fnmatch.fnmatchcase(a, pattern.lower()) for pattern in deny):
            return True
    return False


def permissions(f: Facts, w: Wanted) -> Check:
    p = f.permissions
    if not isinstance(p, tuple):
        if isinstance(p, ReadError) and p.code == "ResourceGroupNotFound":
            return Check("permissions", FAIL, p.describe(),
                         f"create the resource group {w.resource_group} in {w.location} (or fix resource_group)")
        return _unread("permissions", p, forbidden_fix="doctor lists the caller's permissions with "
                       "Microsoft.Authorization/permissions/read: assign the role of deploy/azure-role.json "
                       "(or Reader)",
                       fix="check the network and run again")
    missing = [a for a in w.role_actions if not _granted(p, a, data=False)]
    missing_data = [a for a in w.role_data_actions if not _granted(p, a, data=True)]
    storage = [a for a in missing if a.lower().startswith("microsoft.storage/")] + missing_data
    arm = [a for a in missing if not a.lower().startswith("microsoft.storage/")]
    total = len(w.role_actions) + len(w.role_data_actions)
    if arm:
        return Check("permissions", FAIL,
                     f"on resource group {w.resource_group} the caller lacks {len(arm)} of the role's actions: "
                     + ", ".join(arm),
                     "assign the role in deploy/azure-role.json on the resource group (README, 'Least-privilege "
                     "role'); if it is assigned, `az role definition update --role-definition @deploy/azure-role.json`")
    if storage:
        return Check("permissions", WARN,
                     f"the role's ARM actions are granted; these storage actions are not granted on resource group "
                     f"{w.resource_group}: " + ", ".join(storage),
                     f"fine when granted on storage account {w.storage_account} itself (the storage check "
                     f"tells); else assign Storage Blob Data Contributor there")
    return Check("permissions", PASS, f"all {total} actions of deploy/azure-role.json are granted on resource group "
                                      f"{w.resource_group}")


# --- VM size ----------------------------------------------------------------------------------------------------
def _sku(f: Facts, w: Wanted) -> SkuFacts | None:
    if not isinstance(f.skus, tuple):
        return None
    return next((s for s in f.skus if s.name.lower() == w.vm_size.lower()), None)


def vm_size(f: Facts, w: Wanted) -> Check:
    if not isinstance(f.skus, tuple):
        return _unread("vm-size", f.skus, forbidden_fix=SUB_READER + " (Microsoft.Compute/skus/read)",
                       fix="check the network and run again")
    sku = _sku(f, w)
    pick = f"pick a size offered there (`az vm list-skus --location {w.location} --resource-type virtualMachines " \
           f"--output table`) and set vm_size"
    if sku is None or w.location.lower() not in (loc.lower() for loc in sku.locations):
        return Check("vm-size", FAIL, f"{w.vm_size} is not offered in {w.location}", pick)
    restricted = [(reason, kind) for reason, kind, values in sku.restrictions
                  if kind == "Location" and w.location.lower() in (v.lower() for v in values)]
    if restricted:
        reason = restricted[0][0]
        return Check("vm-size", FAIL, f"{w.vm_size} is restricted for this subscription in {w.location} ({reason})",
                     f"request access to the size (Azure support: 'VM size not available') or {pick}")
    if w.security_type == "TrustedLaunch" and sku.trusted_launch_disabled:
        return Check("vm-size", FAIL, f"{w.vm_size} does not support Trusted Launch",
                     "pick a size that does (Gen2, not TrustedLaunchDisabled) or set "
                     "fleet.security_type = \"Standard\"")
    definition = f.image_definition
    if isinstance(definition, ImageDefinitionFacts) and sku.generations and \
            definition.hyper_v_generation not in sku.generations:
        return Check("vm-size", FAIL, f"{w.vm_size} runs {'/'.join(sku.generations)} images; the image definition "
                                      f"is {definition.hyper_v_generation}", "pick a size that supports it")
    vcpus = f" ({sku.vcpus} vCPUs, {sku.family})" if sku.vcpus else ""
    return Check("vm-size", PASS, f"{w.vm_size}{vcpus} is offered in {w.location} without restriction")


# --- quota ------------------------------------------------------------------------------------------------------
def quota(f: Facts, w: Wanted) -> Check:
    u = f.usages
    if not isinstance(u, tuple):
        return _unread("quota", u, forbidden_fix=SUB_READER + " (Microsoft.Compute/locations/usages/read)",
                       fix="check the network and run again")
    sku = _sku(f, w)
    if sku is None or not sku.vcpus:
        return Check("quota", WARN, f"not checked: the vCPUs of {w.vm_size} are unknown (see vm-size)")
    sizes = {s.name.lower(): s for s in f.skus} if isinstance(f.skus, tuple) else {}
    fleets = f.fleets if isinstance(f.fleets, tuple) else ()
    # stage copies the live fleet's capacity: size a release by the larger of that and capacity.default
    per_fleet = max([w.capacity] + [fl.capacity for fl in fleets if fl.vm_size.lower() == w.vm_size.lower()])
    need = 2 * per_fleet * sku.vcpus
    problems, said = [], []
    for usage in sorted((x for x in u if x.name in ("cores", sku.family)), key=lambda x: x.name != "cores"):
        own = sum(fl.capacity * (sizes[fl.vm_size.lower()].vcpus or 0) for fl in fleets
                  if fl.vm_size.lower() in sizes and
                  (usage.name == "cores" or sizes[fl.vm_size.lower()].family == usage.name))
        others = max(0, usage.current - own)
        said.append(f"{usage.localized}: {usage.current}/{usage.limit} used ({own} by this pipeline's fleets)")
        if others + need > usage.limit:
            problems.append((usage, others + need))
    if not said:
        return Check("quota", WARN, f"not checked: no 'cores' or '{sku.family}' usage in {w.location}")
    sized_by = f"capacity.default {w.capacity}" if per_fleet == w.capacity else f"the live fleet's {per_fleet}"
    release = f"a release needs {need} vCPUs (live + staged: 2 x {sized_by} x {sku.vcpus})"
    if problems:
        usage, total = problems[0]
        return Check("quota", FAIL, f"{'; '.join(said)}; {release}",
                     f"request a quota increase of {usage.localized} in {w.location} to at least {total} "
                     f"(Azure portal: Quotas), or lower capacity.default")
    return Check("quota", PASS, f"{'; '.join(said)}; {release}")


# --- NSG --------------------------------------------------------------------------------------------------------
def nsg(f: Facts, w: Wanted) -> Check:
    n = f.nsgs
    where = f"subnet {w.subnet}"
    if not isinstance(n, tuple):
        if isinstance(n, ReadError) and n.missing:
            return Check("nsg", FAIL, n.describe(), INFRA.format(env=w.environment))
        return _unread("nsg", n, forbidden_fix="check the role", fix="check the network and run again")
    if not n:
        return Check("nsg", FAIL, f"no network security group on {where}: a Standard load balancer delivers "
                                  f"nothing to it", INFRA.format(env=w.environment) + " to create the NSG")
    refused = []
    for flow in w.flows:
        for source in flow.sources:
            allowed, by = nsgflow.evaluate_path(n, port=flow.port, source=source)
            if not allowed:
                refused.append(f"{flow.purpose} port {flow.port} from {source} (refused by {by})")
    names = ", ".join(x.name for x in n)
    if refused:
        first = w.flows[0].setting if w.flows else "the NSG"
        return Check("nsg", FAIL, f"{names} refuses: " + "; ".join(refused),
                     f"add an Allow rule for each (or run `invoke infra --env {w.environment}`), or change "
                     f"{first} / network.allow_staging_from to the sources you mean")
    flows = "; ".join(f"{fl.purpose} port {fl.port} from {', '.join(fl.sources)}" for fl in w.flows)
    if not any(fl.purpose.startswith("staging") for fl in w.flows):
        return Check("nsg", WARN, f"{names} lets in {flows}; staging and per-instance ports not checked",
                     "set network.allow_staging_from to the addresses smoke tests run from")
    return Check("nsg", PASS, f"{names} lets in {flows}")


# --- image definition and gallery ------------------------------------------------------------------------------
def image_definition(f: Facts, w: Wanted) -> Check:
    d = f.image_definition
    if not isinstance(d, ImageDefinitionFacts):
        if isinstance(d, ReadError) and d.missing:
            return Check("image-definition", FAIL, f"image definition {w.gallery}/{w.image_definition} not found",
                         INFRA.format(env=w.environment))
        return _unread("image-definition", d, forbidden_fix="check the role", fix="check the network and run again")
    has = d.security_type or "no SecurityType feature"
    said = f"{w.gallery}/{d.name}: {d.hyper_v_generation}, {has}"
    if w.security_type is None:
        return Check("image-definition", WARN, f"{said}; fleet.security_type is not set in this checkout",
                     "set fleet.security_type (TrustedLaunch or Standard) so doctor can compare")
    accepted = ACCEPTS.get(w.security_type)
    if accepted is None:
        return Check("image-definition", FAIL, f"fleet.security_type {w.security_type!r} is not one doctor knows",
                     "set TrustedLaunch or Standard")
    if d.security_type not in accepted or (w.security_type == "TrustedLaunch" and d.hyper_v_generation != "V2"):
        return Check("image-definition", FAIL, f"{said}: a {w.security_type} fleet cannot use it",
                     "features of a definition cannot change: point image.definition at a new definition (infra "
                     f"creates it with the right features), or set fleet.security_type to match")
    return Check("image-definition", PASS, f"{said}: fits fleet.security_type {w.security_type}")


def _version_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.]", name))


def _region(name: str) -> str:
    """'West Europe' (how gallery versions often echo a region) and 'westeurope' are one region."""
    return name.lower().replace(" ", "")


def replication(f: Facts, w: Wanted) -> Check:
    region = _region(w.location)
    if region not in (_region(r) for r in w.target_regions):
        return Check("replication", FAIL, f"image.target_regions ({', '.join(w.target_regions)}) leaves out the "
                                          f"fleet's region {w.location}", f"add {w.location} to image.target_regions")
    g = f.gallery
    if not isinstance(g, GalleryFacts):
        if isinstance(g, ReadError) and g.missing:
            return Check("replication", FAIL, f"gallery {w.gallery} not found", INFRA.format(env=w.environment))
        return _unread("replication", g, forbidden_fix="check the role", fix="check the network and run again")
    if not g.versions:
        return Check("replication", PASS, f"gallery {g.name} ({g.location}); new versions go to "
                                          f"{', '.join(w.target_regions)}")
    newest = max(g.versions, key=lambda v: _version_key(v.name))
    if region not in (_region(r) for r in newest.target_regions):
        return Check("replication", FAIL, f"the newest image version {newest.name} is replicated to "
                                          f"{', '.join(newest.target_regions) or 'nowhere'}, not {w.location}",
                     "bake again (new versions replicate to image.target_regions)")
    return Check("replication", PASS, f"gallery {g.name}: the newest version {newest.name} is in {w.location}")


# --- storage ----------------------------------------------------------------------------------------------------
def storage(f: Facts, w: Wanted) -> Check:
    missing, failed = [], []
    for name in w.containers:
        state = f.containers.get(name)
        if isinstance(state, ReadError):
            failed.append(state)
        elif state is False:
            missing.append(name)
        elif state is None:
            return Check("storage", WARN, NOT_READ)
    where = "the local cloud's Azurite" if w.is_local else f"storage account {w.storage_account}"
    if failed:
        err = failed[0]
        fix = (f"assign Storage Blob Data Contributor on {where} to the pipeline's principal"
               if err.status == 403 else f"check that {where} exists and is reachable")
        if w.is_local:
            fix = "run `invoke local.up`"
        return Check("storage", FAIL, err.describe(), fix)
    if missing:
        return Check("storage", FAIL, f"containers missing in {where}: {', '.join(missing)}",
                     INFRA.format(env=w.environment))
    return Check("storage", PASS, f"containers {', '.join(w.containers)} are reachable in {where}")


# --- Packer -----------------------------------------------------------------------------------------------------
def _version(text: str | None) -> tuple[int, ...]:
    found = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(x or 0) for x in found.groups()) if found else ()


def packer(f: Facts, w: Wanted) -> Check:
    p = f.packer
    if p is None or not p.version:
        why = p.error if p and p.error else "packer is not on PATH"
        return Check("packer", FAIL, why, "install Packer (`make setup`, or hashicorp/setup-packer in GitHub Actions)")
    if w.is_local:
        return Check("packer", PASS, f"Packer {p.version} (local bakes use the null builder)")
    if p.azure_plugin:
        return Check("packer", PASS, f"Packer {p.version}, azure plugin {p.azure_plugin}")
    if _version(p.version) < (1, 10):
        return Check("packer", PASS, f"Packer {p.version} has the azure-arm builder built in")
    return Check("packer", FAIL, f"Packer {p.version} without the azure plugin",
                 "packer plugins install github.com/hashicorp/azure")


# --- load balancer ----------------------------------------------------------------------------------------------
def load_balancer(f: Facts, w: Wanted) -> Check:
    lb = f.load_balancer
    if not isinstance(lb, LoadBalancerFacts):
        if isinstance(lb, ReadError) and lb.missing:
            return Check("load-balancer", FAIL, f"load balancer {w.load_balancer} not found",
                         INFRA.format(env=w.environment))
        return _unread("load-balancer", lb, forbidden_fix="check the role", fix="check the network and run again")
    problems, missing = [], []
    if lb.sku.lower() != "standard":
        problems.append(f"SKU is {lb.sku}, not Standard")
    missing += [f"pool {p}" for p in w.pools if p not in lb.pools]
    probe_name, probe_port, probe_path = w.probe
    probe = lb.probes.get(probe_name)
    if probe is None:
        missing.append(f"probe {probe_name}")
    elif probe[1] != probe_port or (probe[0].lower() in ("http", "https") and probe[2] != probe_path):
        problems.append(f"probe {probe_name} checks {probe[0]} {probe[1]} {probe[2] or ''}".rstrip()
                        + f", not port {probe_port} {probe_path}")
    for name, (front, back) in w.rules.items():
        rule = lb.rules.get(name)
        if rule is None:
            missing.append(f"rule {name}")
            continue
        if (rule.frontend_port, rule.backend_port) != (front, back):
            problems.append(f"rule {name} maps {rule.frontend_port} -> {rule.backend_port}, not {front} -> {back}")
        if rule.pool not in w.pools:
            problems.append(f"rule {name} sends to {rule.pool or 'no pool'}, not {' or '.join(w.pools)}")
        if rule.probe != probe_name:
            problems.append(f"rule {name} uses probe {rule.probe or 'none'}, not {probe_name}")
    for color, nat in w.nat.items():
        have = lb.nat_rules.get(nat.name) or lb.nat_pools.get(nat.name)
        if have is None:
            missing.append(f"per-instance NAT {nat.name} ({color})")
        elif (have.frontend_port_start, have.frontend_port_end, have.backend_port) != \
                (nat.frontend_port_start, nat.frontend_port_end, nat.backend_port):
            problems.append(f"NAT {nat.name} maps {have.frontend_port_start}-{have.frontend_port_end} -> "
                            f"{have.backend_port}, not {nat.frontend_port_start}-{nat.frontend_port_end} -> "
                            f"{nat.backend_port}")
    if missing or problems:
        said = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + problems)
        fix = (INFRA.format(env=w.environment) + " to add the missing parts" if missing and not problems else
               "change the load balancer to match pipeline.toml, or pipeline.toml to match it")
        if lb.sku.lower() != "standard":
            fix = "a Basic load balancer cannot be upgraded in place: create a Standard one (Standard public IP)"
        return Check("load-balancer", FAIL, f"{lb.name}: {said}", fix)
    nat = ", ".join(n.name for n in w.nat.values())
    return Check("load-balancer", PASS, f"{lb.name} is Standard with pools {', '.join(w.pools)}, rules "
                                        f"{', '.join(w.rules)}, probe {probe_name}" + (f", NAT {nat}" if nat else ""))


CHECKS = (credential, subscription, providers, permissions, vm_size, quota, nsg, image_definition, replication,
          storage, packer, load_balancer)


def run_checks(facts: Facts, want: Wanted) -> tuple[Check, ...]:
    return tuple(check(facts, want) for check in CHECKS)
