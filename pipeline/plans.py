"""Pure plans of the release steps: `plan_<step>(facts, request) -> Plan` (no I/O; facts from pipeline/facts.py).

    facts = read_facts(ctx, ...)                 # pipeline/steps/facts.py: the only read
    plan = plan_stage(facts, StageRequest(...))  # here: the only decision; raises when the step must not go on
    # the step prints plan.lines() (that is all --dry-run does), or executes exactly the plan

Stage: the new fleet goes on the idle color (the one production does not serve), after its pool and NAT rule
exist, the ledger's live fleet matches the load balancer, the image version exists and is not already live. An
older fleet on the idle pool is deleted first (never the live one). Capacity: the flag, else the live fleet's,
else the default; never below the minimum. A re-run after a kill converges the same scale set (reuse).
Promote / rollback: the target is the staged fleet that passed smoke (promote) or the warm previous fleet
(rollback); production moves to its color in one guarded write, unless a killed run already moved it (resume:
verify and record only). A ledger whose live fleet is not the color production serves stops both.
Smoke: the staged fleet (nothing staged: NotReady).
Infra: create what is missing of the base infrastructure (resource group, the app subnet's network security group
with the pipeline's rules merged in, virtual network and subnet, public IP, load balancer, gallery, image
definition); add missing load balancer parts and remove the NAT pools no scale set uses; refuse (nothing changed)
an image definition whose security type can not take the fleet's, a subnet on another group, a user's rule on the
pipeline's priorities, a NAT rule range overlapping a NAT pool still used.
Retire: fleets neither live nor staged (superseded ones at once, warm, failed and rolled-back ones past
keep-warm); then image versions beyond the newest N that neither the ledger (after those retirements) nor any
remaining scale set uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import bluegreen, fleet, infra, naming
from pipeline import nsg as nsg_rules
from pipeline import ledger as ledger_model
from pipeline.config import Settings
from pipeline.errors import NotReady
from pipeline.errors import ConfigError
from pipeline.facts import Facts, InfraFacts
from pipeline.ids import Ids

__all__ = ["InfraPlan", "InfraWrite", "RetirePlan", "SmokePlan", "StagePlan", "StageRequest", "SwitchPlan", "plan_infra", "plan_promote", "plan_retire",
           "plan_rollback", "plan_smoke", "plan_stage"]


# ---------------------------------------------------------------------------------------------- stage


@dataclass(frozen=True)
class StageRequest:
    image_version: str
    capacity: int | None = None

    def __post_init__(self) -> None:  # checked before anything is read
        naming.check_gallery_image_version(self.image_version)


@dataclass(frozen=True)
class StagePlan:
    fleet: str
    color: str
    pool: str
    image_version: str
    capacity: int
    remove: tuple[str, ...]
    point_staging_rule: bool
    reuse: bool

    def lines(self) -> list[str]:
        lines = [f"delete old fleet {name} from the idle {self.color} pool" for name in self.remove]
        verb = "converge existing" if self.reuse else "create"
        lines.append(f"{verb} scale set {self.fleet}: image {self.image_version}, {self.capacity} instances, "
                     f"pool {self.pool}")
        if self.point_staging_rule:
            lines.append(f"point the staging rule at pool {self.pool}")
        lines.append("wait until every instance is healthy behind the probe; record the staged fleet")
        return lines


def plan_stage(facts: Facts, request: StageRequest, *, settings: Settings) -> StagePlan:
    s, ledger, version = settings, facts.ledger, request.image_version
    idle = facts.idle_color
    pool = facts.pools.for_color(idle)
    # The new scale set joins these: a missing one fails here, before an old fleet is deleted or anything created.
    bluegreen.pool_id(facts.lb, pool)
    bluegreen.nat_rule_id(facts.lb, s.load_balancer.nat_rules.for_color(idle).name, pool=pool)
    facts.check_live(ledger_model.live_fleet(ledger), before="releasing")
    facts.require_image(version)
    name = naming.fleet_name(s.app, s.environment, version)
    if ledger.live == name:
        raise NotReady(f"image version {version} is already live as {name}; bake a new version to release")
    ours = facts.ours(s.app)
    remove = tuple(sorted(v.name for v in ours if v.tags.get("color") == idle and v.name not in (name, ledger.live)))
    live_set = next((v for v in ours if ledger.live and v.name == ledger.live), None)
    for found in [live_set] + [v for v in ours if v.name == name]:
        if found is not None:
            fleet.require_uniform(dict(found.body))   # a Flexible fleet has none of what the release needs
    wanted = request.capacity or (live_set.capacity if live_set else None) or s.capacity.default
    return StagePlan(fleet=name, color=idle, pool=pool, image_version=version,
                     capacity=max(wanted, s.capacity.minimum), remove=remove,
                     point_staging_rule=not facts.staging_on(idle), reuse=any(v.name == name for v in ours))


# ---------------------------------------------------------------------------------------------- promote, rollback


@dataclass(frozen=True)
class SwitchPlan:
    step: str                                   # promote | rollback
    target: ledger_model.Fleet                  # the fleet production moves to
    replaced: ledger_model.Fleet | None         # the fleet that is live now (None on a first release)
    resumed: bool                               # production already on the target's color: verify and record only
    assignments: dict[str, str]                 # rule -> pool, the one guarded write (empty when resumed)
    back: dict[str, str]                        # rule -> pool, the swap back when verification fails
    checking_rule: str                          # the rule whose probe must see the target healthy first

    def lines(self) -> tuple[str, ...]:
        if self.resumed:
            return (f"production already on {self.target.color}: verify and record",)
        return tuple(bluegreen.describe(self.assignments))


def _switch(facts: Facts, *, step: str, target: ledger_model.Fleet) -> SwitchPlan:
    replaced = ledger_model.live_fleet(facts.ledger)
    resumed = facts.live_color == target.color
    if not resumed:
        facts.check_live(replaced, before="releasing")
    rules = {"production_rule": facts.production_rule, "staging_rule": facts.staging_rule,
             "pools": facts.pools.by_color()}
    moved = bluegreen.live_on(target.color, **rules)
    back = bluegreen.live_on(replaced.color, **rules) if replaced is not None else {}
    return SwitchPlan(step, target, replaced, resumed, {} if resumed else moved, back,
                      facts.production_rule if resumed else facts.staging_rule)


def plan_promote(facts: Facts) -> SwitchPlan:
    """Promote the staged fleet. NotReady when nothing is staged or it has not passed smoke."""
    ledger = facts.ledger
    staged = ledger_model.staged_fleet(ledger)
    if staged is None:
        live = ledger_model.live_fleet(ledger)
        hint = f" ({live.name} is live)" if live else ""
        raise NotReady(f"nothing is staged in {facts.environment}{hint}; run `invoke stage` and `invoke smoke` first")
    if staged.smoke != "passed":
        raise NotReady(f"staged fleet {staged.name} has not passed its smoke checks ({staged.smoke}); "
                       f"run `invoke smoke` first")
    return _switch(facts, step="promote", target=staged)


def plan_rollback(facts: Facts) -> SwitchPlan:
    """Roll back to the warm previous fleet. NotReady when there is nothing to roll back to."""
    return _switch(facts, step="rollback", target=ledger_model.rollback_target(facts.ledger))


# ---------------------------------------------------------------------------------------------- smoke


@dataclass(frozen=True)
class SmokePlan:
    fleet: ledger_model.Fleet      # the staged fleet the checks run against

    def lines(self) -> list[str]:
        f = self.fleet
        return [f"run the smoke checks against {f.name} ({f.image_version}, {f.color}): the staging frontend and "
                f"every instance; record the outcome"]


def plan_smoke(facts: Facts) -> SmokePlan:
    """Smoke the staged fleet. NotReady when nothing is staged."""
    staged = ledger_model.staged_fleet(facts.ledger)
    if staged is None:
        raise NotReady(f"nothing is staged in {facts.environment}; run `invoke stage --image-version X` first")
    return SmokePlan(staged)


# ---------------------------------------------------------------------------------------------- retire


@dataclass(frozen=True)
class RetirePlan:
    fleets: tuple[ledger_model.Fleet, ...]
    image_versions: tuple[str, ...]

    def lines(self) -> list[str]:
        return ([f"delete fleet {f.name} ({f.state} since {f.updated_at:%Y-%m-%d %H:%M})" for f in self.fleets]
                + [f"delete image version {v}" for v in self.image_versions])


def plan_retire(facts: Facts, *, settings: Settings) -> RetirePlan:
    """Needs the facts' scale sets and gallery versions."""
    ledger = facts.ledger
    fleets = ledger_model.fleets_to_retire(ledger, now=facts.now, keep_warm=settings.keep_warm)
    after = ledger
    for f in fleets:   # the ledger as it will be once those are recorded retired
        after = ledger_model.record(after, ledger_model.new_event("retired", fleet=f.name, who="plan", at=facts.now,
                                                                  image_version=f.image_version))
    gone = {f.name for f in fleets}
    in_use = {v.tags.get("image-version") for v in facts.scale_sets if v.name not in gone}
    versions = tuple(v for v in ledger_model.image_versions_to_delete(after, keep=settings.keep_image_versions)
                     if v in facts.gallery and v not in in_use)
    return RetirePlan(fleets, versions)


# ---------------------------------------------------------------------------------------------- infra


@dataclass(frozen=True)
class InfraWrite:
    """One write of `invoke infra`: `what` (resource_group | nsg | vnet | subnet | public_ip | load_balancer |
    gallery | image_definition) with its whole body; `etag` guards the write of something read."""

    what: str
    label: str
    body: dict
    etag: str | None = None


@dataclass(frozen=True)
class InfraPlan:
    actions: tuple[str, ...]                 # one line each, what --dry-run prints
    writes: tuple[InfraWrite, ...]           # exactly what the act phase does, in order
    notes: tuple[str, ...] = ()              # NAT pools kept
    warnings: tuple[str, ...] = ()           # existing rules whose backend port drifted from the settings
    containers: tuple[str, ...] = ()         # blob containers made sure of (idempotent; not listed as actions)

    def lines(self) -> list[str]:
        return list(self.actions)


def _subnet_nsg(vnet, subnet: str) -> tuple[dict | None, str | None]:
    """(the app subnet as read, the id of its network security group)."""
    for found in ((vnet or {}).get("properties") or {}).get("subnets") or []:
        if found.get("name", "").lower() == subnet.lower():
            return found, ((found.get("properties") or {}).get("networkSecurityGroup") or {}).get("id")
    return None, None


def _check_definition(s: Settings, definition) -> None:
    if definition is None or infra.definition_allows(dict(definition), s.fleet.security_type):
        return
    declared = infra.definition_security_type(dict(definition)) or "none (Standard)"
    raise ConfigError(f"fleet.security_type is {s.fleet.security_type!r} but image definition "
                      f"{s.image.gallery}/{s.image.definition} has SecurityType {declared}, which Azure does not "
                      f"let change on an existing definition: set fleet.security_type to 'Standard', or set "
                      f"image.definition to a new name (infra creates it with SecurityType="
                      f"{infra.DEFINITION_SECURITY_TYPE}); nothing was changed")


def _plan_network(s: Settings, facts: InfraFacts, ids: Ids, actions: list, writes: list) -> None:
    """The app subnet's network security group (created, or the pipeline's rules merged into the user's), then the
    virtual network with the subnet associated to it."""
    name = s.network.nsg_name
    nsg_id = ids.provider("Microsoft.Network", "networkSecurityGroups", name)
    subnet, associated = _subnet_nsg(facts.vnet, s.network.subnet)
    if associated and associated.rstrip("/").lower() != nsg_id.lower():
        raise ConfigError(f"network.nsg is {name!r}, but subnet {s.network.subnet} already uses network security "
                          f"group {associated.rsplit('/', 1)[-1]!r}; set network.nsg to that name so the pipeline "
                          f"adds its rules there (nothing was changed)")
    if facts.nsg is None:
        label = f"network security group {name} ({nsg_rules.describe(s)})"
        actions.append(label)
        writes.append(InfraWrite("nsg", label, nsg_rules.body(s)))
    else:
        actual = dict(facts.nsg)
        current = (actual.get("properties") or {}).get("securityRules") or []
        desired = nsg_rules.desired_rules(s)
        clash = nsg_rules.conflicts(current, desired)
        if clash:
            raise ConfigError(f"network security group {name} has rules of its own at the priorities the pipeline "
                              f"uses: {', '.join(clash)}; move them off {nsg_rules.PRODUCTION_PRIORITY}-"
                              f"{nsg_rules.STAGING_PRIORITY + 99} (nothing was changed)")
        rules, changes = nsg_rules.merge(current, desired)
        if changes:
            label = f"network security group {name} rules: {', '.join(changes)}"
            actions.append(label)
            writes.append(InfraWrite("nsg", label, {"location": actual["location"], "tags": actual.get("tags") or {},
                                                    "properties": {"securityRules": rules}}, actual["etag"]))
    if facts.vnet is None:
        label = f"virtual network {s.network.vnet} with subnet {s.network.subnet} (network security group {name})"
        actions.append(label)
        writes.append(InfraWrite("vnet", label, infra.virtual_network(s, nsg_id=nsg_id)))
    elif subnet is not None and not associated:
        label = f"subnet {s.network.subnet}: associate network security group {name}"
        actions.append(label)
        writes.append(InfraWrite("subnet", label, infra.subnet_with_nsg(subnet, nsg_id)))


def _plan_load_balancer(s: Settings, facts: InfraFacts, ids: Ids, actions: list, writes: list,
                        notes: list, warnings: list) -> None:
    lb_name, desired = s.load_balancer.name, infra.load_balancer(s, ids)
    if facts.load_balancer is None:
        nat = s.load_balancer.nat_rules
        label = (f"load balancer {lb_name} (production -> blue, staging -> green; per-instance ports: "
                 f"inbound NAT rules {nat.blue.name}, {nat.green.name})")
        actions.append(label)
        writes.append(InfraWrite("load_balancer", label, desired))
        return
    actual = dict(facts.load_balancer)
    migration = infra.NatMigration((), ())
    if actual.get("properties", {}).get("inboundNatPools"):
        users = {pool: list(names) for pool, names in facts.nat_pool_users.items()}
        migration = infra.plan_nat_migration(s, actual, users)
        notes.extend(migration.notes)
    warnings.extend(f"load balancer {lb_name}: {line}; the network security group opens ports by the settings, so "
                    f"update that rule's backend port (infra does not change existing rules)"
                    for line in infra.backend_port_drift(actual, desired))
    missing = infra.missing_parts(actual, desired)
    if missing:
        parts = ", ".join(f"{kind} {', '.join(names)}" for kind, names in missing.items())
        actions.append(f"load balancer {lb_name} parts: {parts}")
    if migration.remove:
        actions.append(f"load balancer {lb_name}: remove NAT pools {', '.join(migration.remove)}, which no "
                       f"scale set uses (NAT rules V1 and NAT pools retire on 30 September 2027)")
    if missing or migration.remove:
        writes.append(InfraWrite("load_balancer", f"load balancer {lb_name}",
                                 infra.with_missing_parts(actual, desired, remove_nat_pools=migration.remove),
                                 actual.get("etag")))


def plan_infra(facts: InfraFacts, settings: Settings) -> InfraPlan:
    """What `invoke infra` creates or changes, from the facts alone. ConfigError (nothing changed) when it must not
    go on."""
    s, ids = settings, Ids.of(settings, facts.subscription)
    _check_definition(s, facts.definition)
    actions: list[str] = []
    writes: list[InfraWrite] = []
    notes: list[str] = []
    warnings: list[str] = []

    def create(exists: bool, what: str, label: str, body: dict) -> None:
        if not exists:
            actions.append(label)
            writes.append(InfraWrite(what, label, body))

    create(facts.group_exists, "resource_group", f"resource group {s.resource_group}", infra.resource_group(s))
    _plan_network(s, facts, ids, actions, writes)
    create(facts.public_ip_exists, "public_ip", f"public IP {s.load_balancer.frontend}", infra.public_ip(s))
    _plan_load_balancer(s, facts, ids, actions, writes, notes, warnings)
    create(facts.gallery_exists, "gallery", f"gallery {s.image.gallery}", infra.gallery(s))
    create(facts.definition is not None, "image_definition", f"image definition {s.image.definition}",
           infra.image_definition(s))
    return InfraPlan(tuple(actions), tuple(writes), tuple(notes), tuple(warnings),
                     (s.storage.ledger_container, s.storage.packages_container))
