"""Scale sets, their VMs, instance views, VM NIC views and boot diagnostics: parse, call the backend, reply."""

from __future__ import annotations

from ..core.errors import ArmError, ResourceNotFound
from ..core.request import ArmRequest, Reply, listing, no_content, ok
from . import bootdiag, views


def backend(req: ArmRequest):
    return req.cloud.compute


def _scale_set(req: ArmRequest):
    return backend(req).scale_set(req.subscription, req.resource_group, req.vmss)


def _uniform(req: ArmRequest, operation: str):
    """The scale set, when it is Uniform: scale-set VM operations do not exist for Flexible ones."""
    ss = _scale_set(req)
    backend(req).require_uniform(ss, operation)
    return ss


def _render(req: ArmRequest, ss) -> dict:
    expand = req.query.get("$expand", "").lower()
    return views.scale_set(ss, user_data=expand == "userdata", fault_domains=req.cloud.options.fault_domains)


async def _write(req: ArmRequest, *, patch: bool) -> Reply:
    compute = backend(req)
    ss, created, plan = compute.write_scale_set(req.subscription, req.resource_group, req.vmss, req.json(),
                                                patch=patch, headers=req.headers)

    async def work() -> None:
        await compute.apply(ss, plan)

    op = req.cloud.operations.start(req, namespace="Microsoft.Compute", location=ss.location, work=work,
                                    on_failed=lambda err: compute.failed(ss))
    return req.cloud.operations.accepted(req, op, status=201 if created else 200, body=_render(req, ss))


async def put(req: ArmRequest) -> Reply:
    return await _write(req, patch=False)


async def patch(req: ArmRequest) -> Reply:
    return await _write(req, patch=True)


async def get(req: ArmRequest) -> Reply:
    return ok(_render(req, _scale_set(req)))


async def delete(req: ArmRequest) -> Reply:
    compute = backend(req)
    req.cloud.resources.require(req.subscription, req.resource_group)
    ss = compute.find_scale_set(req.subscription, req.resource_group, req.vmss)
    if ss is None:
        return no_content()
    compute.begin_delete(ss)
    op = req.cloud.operations.start(req, namespace="Microsoft.Compute", location=ss.location,
                                    work=lambda: compute.finish_delete(ss), on_failed=lambda err: compute.failed(ss))
    return req.cloud.operations.accepted(req, op, status=202, location_header=True)


async def list_in_group(req: ArmRequest) -> Reply:
    req.cloud.resources.require(req.subscription, req.resource_group)
    found = [ss for ss in backend(req).scale_sets.values() if ss.resource_group.lower() == req.resource_group.lower()]
    return listing([_render(req, ss) for ss in sorted(found, key=lambda s: s.id.lower())])


async def list_all(req: ArmRequest) -> Reply:
    return listing([_render(req, ss) for ss in sorted(backend(req).scale_sets.values(), key=lambda s: s.id.lower())])


async def instance_view(req: ArmRequest) -> Reply:
    return ok(views.scale_set_instance_view(backend(req), _uniform(req, "Get Virtual Machine Scale Set Instance View")))


def _action(name: str, *, single: bool = False):
    async def handler(req: ArmRequest) -> Reply:
        compute = backend(req)
        ss = _scale_set(req)
        ids = compute.begin_action(ss, name, req.json_or_empty(), single=req.instance_id if single else None)
        op = req.cloud.operations.start(req, namespace="Microsoft.Compute", location=ss.location,
                                        work=lambda: compute.run_action(ss, name, ids),
                                        on_failed=lambda err: compute.failed(ss, ids))
        return req.cloud.operations.accepted(req, op, status=202, location_header=True)

    handler.__name__ = f"{name}_{'vm' if single else 'vmss'}"
    return handler


# --- VMs ---------------------------------------------------------------------------------------------------------
async def vm_list(req: ArmRequest) -> Reply:
    ss = _uniform(req, "List Virtual Machine Scale Set VMs")
    expand = "instanceview" in req.query.get("$expand", "").lower()
    return listing([views.vm(backend(req), ss, vm, expand_instance_view=expand) for vm in ss.sorted_vms()])


async def vm_get(req: ArmRequest) -> Reply:
    ss = _uniform(req, "Get Virtual Machine Scale Set VM")
    vm = backend(req).instance(ss, req.instance_id)
    expand = "instanceview" in req.query.get("$expand", "").lower()
    return ok(views.vm(backend(req), ss, vm, expand_instance_view=expand))


async def vm_instance_view(req: ArmRequest) -> Reply:
    ss = _uniform(req, "Get Virtual Machine Scale Set VM Instance View")
    return ok(views.vm_instance_view(backend(req), ss, backend(req).instance(ss, req.instance_id)))


async def boot_diagnostics(req: ArmRequest) -> Reply:
    compute = backend(req)
    ss = _uniform(req, "Retrieve Boot Diagnostics Data")
    vm = compute.instance(ss, req.instance_id)
    try:
        minutes = int(req.query.get("sasuriexpirationtimeinminutes", "120"))
    except ValueError:
        raise ArmError("The value of parameter 'sasUriExpirationTimeInMinutes' is invalid.",
                       code="InvalidParameter") from None
    urls = await bootdiag.retrieve(req.cloud.options.blob_connection_string, compute.workdir(ss, vm) / "console.log",
                                   f"{ss.name}-{vm.instance_id}/{vm.computer_name}.{vm.vm_id}", minutes)
    return ok(urls)


# --- VM network interfaces (network api-version, Microsoft.Compute paths) -------------------------------------------
async def nic_list_vm(req: ArmRequest) -> Reply:
    ss = _scale_set(req)
    return listing(views.network_interfaces(ss, backend(req).instance(ss, req.instance_id)))


async def nic_get(req: ArmRequest) -> Reply:
    ss = _scale_set(req)
    vm = backend(req).instance(ss, req.instance_id)
    for nic in views.network_interfaces(ss, vm):
        if nic["name"].lower() == req.nic.lower():
            return ok(nic)
    raise ResourceNotFound(f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{ss.name}/virtualMachines/"
                           f"{vm.instance_id}/networkInterfaces/{req.nic}' under resource group "
                           f"'{ss.resource_group}' was not found.")


async def nic_list_vmss(req: ArmRequest) -> Reply:
    ss = _scale_set(req)
    return listing([nic for vm in ss.sorted_vms() for nic in views.network_interfaces(ss, vm)])
