"""Microsoft.Compute routes, each named by Azure's operationId."""

from ..core.routing import COMPUTE, SUB, route
from . import responses_images as img
from . import responses_vmss as r

VMSS = COMPUTE + "/virtualMachineScaleSets/{vmss}"
VM = VMSS + "/virtualMachines/{instance_id}"
IMAGE = COMPUTE + "/images/{image}"
GALLERY = COMPUTE + "/galleries/{gallery}"
DEFINITION = GALLERY + "/images/{gallery_image}"
VERSION = DEFINITION + "/versions/{version}"

ACTIONS = {"manualupgrade": "UpdateInstances", "reimage": "Reimage", "reimageall": "ReimageAll",
           "restart": "Restart", "delete": "DeleteInstances", "poweroff": "PowerOff", "start": "Start"}
VM_ACTIONS = {"reimage": "Reimage", "reimageall": "ReimageAll", "restart": "Restart", "poweroff": "PowerOff",
              "start": "Start"}


def routes():
    out = [
        route("PUT", VMSS, "VirtualMachineScaleSets_CreateOrUpdate", "compute", r.put),
        route("PATCH", VMSS, "VirtualMachineScaleSets_Update", "compute", r.patch),
        route("GET", VMSS, "VirtualMachineScaleSets_Get", "compute", r.get),
        route("DELETE", VMSS, "VirtualMachineScaleSets_Delete", "compute", r.delete),
        route("GET", COMPUTE + "/virtualMachineScaleSets", "VirtualMachineScaleSets_List", "compute", r.list_in_group),
        route("GET", SUB + "/providers/Microsoft.Compute/virtualMachineScaleSets", "VirtualMachineScaleSets_ListAll",
              "compute", r.list_all),
        route("GET", VMSS + "/instanceView", "VirtualMachineScaleSets_GetInstanceView", "compute", r.instance_view),
        route("GET", VMSS + "/virtualMachines", "VirtualMachineScaleSetVMs_List", "compute", r.vm_list),
        route("GET", VM, "VirtualMachineScaleSetVMs_Get", "compute", r.vm_get),
        route("DELETE", VM, "VirtualMachineScaleSetVMs_Delete", "compute", r._action("delete", single=True)),
        route("GET", VM + "/instanceView", "VirtualMachineScaleSetVMs_GetInstanceView", "compute", r.vm_instance_view),
        route("POST", VM + "/retrieveBootDiagnosticsData", "VirtualMachineScaleSetVMs_RetrieveBootDiagnosticsData",
              "compute", r.boot_diagnostics),
        route("GET", VM + "/networkInterfaces", "NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces",
              "vmss-nic", r.nic_list_vm),
        route("GET", VM + "/networkInterfaces/{nic}", "NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface",
              "vmss-nic", r.nic_get),
        route("GET", VMSS + "/networkInterfaces", "NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces",
              "vmss-nic", r.nic_list_vmss),
        # managed images
        route("PUT", IMAGE, "Images_CreateOrUpdate", "compute", img.image_put),
        route("GET", IMAGE, "Images_Get", "compute", img.image_get),
        route("DELETE", IMAGE, "Images_Delete", "compute", img.image_delete),
        route("GET", COMPUTE + "/images", "Images_ListByResourceGroup", "compute", img.image_list),
        route("GET", SUB + "/providers/Microsoft.Compute/images", "Images_List", "compute", img.image_list),
        # galleries
        route("PUT", GALLERY, "Galleries_CreateOrUpdate", "gallery", img.gallery_put),
        route("GET", GALLERY, "Galleries_Get", "gallery", img.gallery_get),
        route("DELETE", GALLERY, "Galleries_Delete", "gallery", img.gallery_delete),
        route("GET", COMPUTE + "/galleries", "Galleries_ListByResourceGroup", "gallery", img.gallery_list),
        route("GET", SUB + "/providers/Microsoft.Compute/galleries", "Galleries_List", "gallery", img.gallery_list),
        route("PUT", DEFINITION, "GalleryImages_CreateOrUpdate", "gallery", img.definition_put),
        route("GET", DEFINITION, "GalleryImages_Get", "gallery", img.definition_get),
        route("DELETE", DEFINITION, "GalleryImages_Delete", "gallery", img.definition_delete),
        route("GET", GALLERY + "/images", "GalleryImages_ListByGallery", "gallery", img.definition_list),
        route("PUT", VERSION, "GalleryImageVersions_CreateOrUpdate", "gallery", img.version_put),
        route("PATCH", VERSION, "GalleryImageVersions_Update", "gallery", img.version_patch),
        route("GET", VERSION, "GalleryImageVersions_Get", "gallery", img.version_get),
        route("DELETE", VERSION, "GalleryImageVersions_Delete", "gallery", img.version_delete),
        route("GET", DEFINITION + "/versions", "GalleryImageVersions_ListByGalleryImage", "gallery", img.version_list),
    ]
    for action, op in ACTIONS.items():
        out.append(route("POST", f"{VMSS}/{action}", f"VirtualMachineScaleSets_{op}", "compute", r._action(action)))
    for action, op in VM_ACTIONS.items():
        out.append(route("POST", f"{VM}/{action}", f"VirtualMachineScaleSetVMs_{op}", "compute",
                         r._action(action, single=True)))
    return out
