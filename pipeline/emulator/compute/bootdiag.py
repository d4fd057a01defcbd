"""Boot diagnostics: the instance's console log uploaded to blob storage and handed out as read-only SAS URLs,
so clients read it with azure-storage-blob exactly as on Azure."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..core.errors import ArmError

CONTAINER = "bootdiagnostics"
# A 1x1 white BMP: Linux VMs have no real screenshot, Azure still hands out a URI.
SCREENSHOT = bytes.fromhex("424d3a0000000000000036000000280000000100000001000000010018000000000004000000130b0000"
                           "130b00000000000000000000ffffff00")


def _parts(connection_string: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)


def publish(connection_string: str | None, console_log: Path, prefix: str, minutes: int) -> dict:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    if not connection_string:
        raise ArmError("Boot diagnostics need blob storage; the local cloud has none configured.",
                       code="BootDiagnosticsNotAvailable", status=409)
    parts = _parts(connection_string)
    expiry = datetime.now(timezone.utc) + timedelta(minutes=max(1, minutes))
    urls = {}
    with BlobServiceClient.from_connection_string(connection_string) as service:
        container = service.get_container_client(CONTAINER)
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        log_data = console_log.read_bytes() if console_log.exists() else b""
        for field, name, data in (("serialConsoleLogBlobUri", f"{prefix}.serialconsole.log", log_data),
                                  ("consoleScreenshotBlobUri", f"{prefix}.screenshot.bmp", SCREENSHOT)):
            blob = container.get_blob_client(name)
            blob.upload_blob(data, overwrite=True)
            sas = generate_blob_sas(account_name=parts["AccountName"], container_name=CONTAINER, blob_name=name,
                                    account_key=parts["AccountKey"], permission=BlobSasPermissions(read=True),
                                    expiry=expiry)
            urls[field] = f"{blob.url}?{sas}"
    return urls


async def retrieve(connection_string: str | None, console_log: Path, prefix: str, minutes: int) -> dict:
    return await asyncio.to_thread(publish, connection_string, console_log, prefix, minutes)
