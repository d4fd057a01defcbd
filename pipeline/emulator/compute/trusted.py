"""Trusted Launch as Azure's Compute provider checks it: gallery image definitions carry the SecurityType
feature, scale sets carry `virtualMachineProfile.securityProfile`, and the combinations Azure refuses are
refused with its codes and messages. Pure decisions over plain dicts (no I/O).

Definition feature SecurityType:
  TrustedLaunch                 only TrustedLaunch VMs and scale sets may be created from it
  TrustedLaunchSupported        Standard (Gen2) or TrustedLaunch
  ConfidentialVM / ConfidentialVMSupported / TrustedLaunchAndConfidentialVmSupported: as named
  (no feature)                  a Standard image: TrustedLaunch is refused
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ArmError, InvalidParameter

SECURITY_TYPES = ("TrustedLaunch", "ConfidentialVM", "Standard")
DEFINITION_SECURITY_TYPES = ("TrustedLaunch", "TrustedLaunchSupported", "ConfidentialVM", "ConfidentialVMSupported",
                             "TrustedLaunchAndConfidentialVmSupported", "Standard")
# What each definition SecurityType lets a scale set ask for.
ALLOWED = {
    None: ("Standard",),
    "Standard": ("Standard",),
    "TrustedLaunch": ("TrustedLaunch",),
    "TrustedLaunchSupported": ("Standard", "TrustedLaunch"),
    "ConfidentialVM": ("ConfidentialVM",),
    "ConfidentialVMSupported": ("Standard", "ConfidentialVM"),
    "TrustedLaunchAndConfidentialVmSupported": ("Standard", "TrustedLaunch", "ConfidentialVM"),
}
ONLY_TRUSTED = ("The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' "
                "security type.")
NOT_SUPPORTED = ("Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch "
                 "Supported Gen2 OS Image. For more information, see https://aka.ms/TrustedLaunch-FAQ.")


def feature(definition_props: dict, name: str = "SecurityType") -> str | None:
    for item in definition_props.get("features") or []:
        if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
            return item.get("value")
    return None


def check_definition(props: dict, existing_props: dict | None) -> None:
    """A gallery image definition PUT: a known SecurityType, only on Gen2, and unchanged unless the request sets
    allowUpdateImage (API 2024-03-03 and later)."""
    value = feature(props)
    if value is not None and value not in DEFINITION_SECURITY_TYPES:
        raise InvalidParameter(f"The value '{value}' of parameter 'galleryImage.properties.features.SecurityType' "
                               f"is not allowed. Allowed values: {', '.join(DEFINITION_SECURITY_TYPES)}.",
                               details=[{"target": "galleryImage.properties.features"}])
    if value not in (None, "Standard") and str(props.get("hyperVGeneration") or "V1").upper() != "V2":
        raise InvalidParameter(f"The SecurityType '{value}' is only supported for images with HyperVGeneration "
                               f"'V2'.", details=[{"target": "galleryImage.properties.hyperVGeneration"}])
    if existing_props is None:
        return
    def norm(features: Any) -> list:
        return sorted((str(f.get("name", "")).lower(), str(f.get("value"))) for f in features or []
                      if isinstance(f, dict))

    if norm(props.get("features")) != norm(existing_props.get("features")) and not props.get("allowUpdateImage"):
        raise ArmError("Changing property 'galleryImage.properties.features' is not allowed.",
                       code="PropertyChangeNotAllowed", status=409,
                       details=[{"target": "galleryImage.properties.features"}])


def security_type(profile: dict) -> str:
    return str(((profile.get("securityProfile") or {}).get("securityType")) or "Standard")


def check_scale_set(profile: dict, *, image_kind: str, definition_props: dict | None, hyperv: str | None,
                    existing_profile: dict | None) -> None:
    """A scale set's securityProfile against its image and its current model.

    image_kind: "gallery" (definition_props: the definition's properties) or "managed" (hyperv: the image's
    hyperVGeneration)."""
    security = profile.get("securityProfile") or {}
    raw = security.get("securityType")
    if raw is not None and raw not in SECURITY_TYPES:
        raise InvalidParameter(f"The value '{raw}' of parameter 'securityProfile.securityType' is not allowed. "
                               f"Allowed values: {', '.join(SECURITY_TYPES)}.",
                               details=[{"target": "securityProfile.securityType"}])
    wanted = security_type(profile)
    if security.get("uefiSettings") and wanted not in ("TrustedLaunch", "ConfidentialVM"):
        raise InvalidParameter("UefiSettings can only be specified when SecurityType is 'TrustedLaunch' or "
                               "'ConfidentialVM'.", details=[{"target": "securityProfile.uefiSettings"}])
    if existing_profile is not None and security_type(existing_profile) != wanted:
        raise ArmError("Changing property 'securityProfile.securityType' is not allowed.",
                       code="PropertyChangeNotAllowed", status=409,
                       details=[{"target": "securityProfile.securityType"}])
    if image_kind == "gallery" and definition_props is not None:
        declared = feature(definition_props)
        if declared == "TrustedLaunch" and wanted != "TrustedLaunch":
            raise ArmError(ONLY_TRUSTED, code="BadRequest")
        if wanted not in ALLOWED.get(declared, ("Standard",)):
            raise ArmError(NOT_SUPPORTED, code="BadRequest")
    elif image_kind == "managed" and wanted != "Standard" and str(hyperv or "V1").upper() != "V2":
        raise ArmError(NOT_SUPPORTED, code="BadRequest")
