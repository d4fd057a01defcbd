"""The control API, apart from the ARM paths under /_emulator/: reset, faults, killing instances, counters.

    GET    /_emulator/health                       readiness (no token needed)
    GET    /_emulator/info                         frontends, instances, options
    POST   /_emulator/reset                        forget every resource, fault and counter
    GET    /_emulator/counters                     {"value": [{method, operation, status, count}],
                                                    "contract": [{operation, kind, path, count}]}
    DELETE /_emulator/counters                     zero them (both)
    GET    /_emulator/faults                       the active fault rules
    POST   /_emulator/faults                       add one: {"kind": "throttle", "operation": "...", ...}
    DELETE /_emulator/faults[/{id}]                remove one or all
    POST   /_emulator/kill                         {"resource_group", "vm_scale_set", "instance_id"}: the VM dies
    PUT    /_emulator/timing                       {"provisioning_seconds": 0.5, ...}: slow the cloud down
    GET    /_emulator/subscription                 provider registration, restricted sizes, quota limits
    PUT    /_emulator/subscription                 change them: {"providers": {"Microsoft.Compute": "NotRegistered"},
                                                   "skus": {"Standard_B1s": "NotAvailableForSubscription"},
                                                   "limits": {"cores": 4}} (reset restores the defaults)
    GET    /_emulator/role                         {"enforcing": bool, "role": {...} | null}
    PUT    /_emulator/role                         a role definition (az JSON): enforce it from now on
    DELETE /_emulator/role                         stop enforcing (every action allowed)
    GET    /_emulator/authorizations               [{action, order, granted, denied, first: {method, operation,
                                                     scope}}]
    DELETE /_emulator/authorizations               forget them
Reset puts back the role the emulator was started with (--role) and forgets the authorizations.
"""

from __future__ import annotations

from dataclasses import fields, replace

from .core.errors import InvalidParameter, NotFound
from .core.faults import rule_from_json
from .core.request import ArmRequest, Reply, no_content, ok
from .core.routing import route

BASE = "/_emulator"
TIMING = ("provisioning_seconds", "vm_create_seconds", "poll_ms", "probe_time_scale")


async def health(req: ArmRequest) -> Reply:
    return ok({"status": "ok"})


async def info(req: ArmRequest) -> Reply:
    cloud = req.cloud
    return ok({"subscription_id": cloud.options.subscription_id, "frontends": cloud.network.frontends(),
               "instances": cloud.compute.describe_instances(),
               "timing": {name: getattr(cloud.options, name) for name in TIMING}})


async def reset(req: ArmRequest) -> Reply:
    await req.cloud.reset()
    return no_content()


async def counters(req: ArmRequest) -> Reply:
    counters = req.cloud.counters
    return ok({"value": counters.describe(), "contract": counters.contract.describe()})


async def reset_counters(req: ArmRequest) -> Reply:
    req.cloud.counters.reset()
    return no_content()


async def list_faults(req: ArmRequest) -> Reply:
    return ok({"value": req.cloud.faults.describe()})


async def add_fault(req: ArmRequest) -> Reply:
    try:
        rule = rule_from_json(req.json())
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"Invalid fault rule: {err}.") from None
    req.cloud.faults.add(rule)
    return ok(req.cloud.faults.describe()[-1], 201)


async def clear_faults(req: ArmRequest) -> Reply:
    req.cloud.faults.clear()
    return no_content()


async def remove_fault(req: ArmRequest) -> Reply:
    if not req.cloud.faults.remove(req.fault_id):
        raise NotFound(f"No fault rule '{req.fault_id}'.")
    return no_content()


async def kill(req: ArmRequest) -> Reply:
    body = req.json()
    missing = [k for k in ("resource_group", "vm_scale_set", "instance_id") if k not in body]
    if missing:
        raise InvalidParameter(f"Missing fields: {', '.join(missing)}.")
    await req.cloud.compute.kill_instance(body["resource_group"], body["vm_scale_set"], str(body["instance_id"]))
    return no_content()


async def timing(req: ArmRequest) -> Reply:
    body = req.json()
    unknown = set(body) - set(TIMING)
    if unknown:
        raise InvalidParameter(f"Unknown timing settings {sorted(unknown)}; allowed: {', '.join(TIMING)}.")
    cloud = req.cloud
    types = {f.name: f.type for f in fields(cloud.options)}
    try:
        values = {k: (int(v) if types[k] in ("int", int) else float(v)) for k, v in body.items()}
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"Invalid timing value: {err}.") from None
    cloud.options = replace(cloud.options, **values)
    cloud.operations.poll_ms = cloud.options.poll_ms
    return ok({name: getattr(cloud.options, name) for name in TIMING})


async def get_subscription(req: ArmRequest) -> Reply:
    return ok(req.cloud.subscription.describe())


async def put_subscription(req: ArmRequest) -> Reply:
    return ok(req.cloud.subscription.configure(req.json()))


def _role_state(req: ArmRequest) -> dict:
    role = req.cloud.authorizer.role
    return {"enforcing": role is not None, "role": role.to_json() if role else None}


async def get_role(req: ArmRequest) -> Reply:
    return ok(_role_state(req))


async def put_role(req: ArmRequest) -> Reply:
    from pipeline.rbac import Role, RoleError

    try:
        role = Role.from_json(req.json())
    except RoleError as err:
        raise InvalidParameter(f"Invalid role definition: {err}.") from None
    req.cloud.authorizer.set_role(role)
    return ok(_role_state(req))


async def delete_role(req: ArmRequest) -> Reply:
    req.cloud.authorizer.set_role(None)
    return no_content()


async def authorizations(req: ArmRequest) -> Reply:
    return ok({"value": req.cloud.authorizer.describe()})


async def reset_authorizations(req: ArmRequest) -> Reply:
    req.cloud.authorizer.clear_record()
    return no_content()


def routes():
    return [
        route("GET", BASE + "/health", "Control_Health", "control", health),
        route("GET", BASE + "/info", "Control_Info", "control", info),
        route("POST", BASE + "/reset", "Control_Reset", "control", reset),
        route("GET", BASE + "/counters", "Control_Counters", "control", counters),
        route("DELETE", BASE + "/counters", "Control_ResetCounters", "control", reset_counters),
        route("GET", BASE + "/faults", "Control_ListFaults", "control", list_faults),
        route("POST", BASE + "/faults", "Control_AddFault", "control", add_fault),
        route("DELETE", BASE + "/faults", "Control_ClearFaults", "control", clear_faults),
        route("DELETE", BASE + "/faults/{fault_id}", "Control_RemoveFault", "control", remove_fault),
        route("POST", BASE + "/kill", "Control_KillInstance", "control", kill),
        route("PUT", BASE + "/timing", "Control_Timing", "control", timing),
        route("GET", BASE + "/subscription", "Control_GetSubscription", "control", get_subscription),
        route("PUT", BASE + "/subscription", "Control_PutSubscription", "control", put_subscription),
        route("GET", BASE + "/role", "Control_GetRole", "control", get_role),
        route("PUT", BASE + "/role", "Control_PutRole", "control", put_role),
        route("DELETE", BASE + "/role", "Control_DeleteRole", "control", delete_role),
        route("GET", BASE + "/authorizations", "Control_Authorizations", "control", authorizations),
        route("DELETE", BASE + "/authorizations", "Control_ResetAuthorizations", "control", reset_authorizations),
    ]
