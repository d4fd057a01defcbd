"""SSH public keys as Azure's Compute provider checks them (`osProfile.linuxConfiguration.ssh.publicKeys[].keyData`).

Accepted: OpenSSH one-line keys `ssh-rsa` (modulus of at least 2048 bits), `ssh-ed25519` (32-byte key) and
`ecdsa-sha2-nistp256/384/521` (an uncompressed point of the curve's size), optionally followed by a comment;
and the multi-line RFC 4716 form Azure also takes (`---- BEGIN SSH2 PUBLIC KEY ----`). The base64 blob is
decoded and its wire format parsed, so a truncated or mislabelled key is refused as Azure refuses it:
400 InvalidParameter "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid."
Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re

from ..core.errors import InvalidParameter

MESSAGE = "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid."
RSA_MIN_BITS = 2048
ECDSA_POINT_BYTES = {"nistp256": 65, "nistp384": 97, "nistp521": 133}   # 0x04 || X || Y


class BadKey(ValueError):
    pass


def _fields(blob: bytes) -> list[bytes]:
    """The SSH wire format: uint32 length + bytes, repeated to the end."""
    out, pos = [], 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise BadKey("truncated length")
        size = int.from_bytes(blob[pos:pos + 4], "big")
        pos += 4
        if size > len(blob) - pos:
            raise BadKey("truncated field")
        out.append(blob[pos:pos + size])
        pos += size
    return out


def _mpint_bits(value: bytes) -> int:
    return int.from_bytes(value, "big").bit_length()


def _rfc4716(text: str) -> str | None:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if not lines or lines[0] != "---- BEGIN SSH2 PUBLIC KEY ----" or lines[-1] != "---- END SSH2 PUBLIC KEY ----":
        return None
    body, continued = [], False
    for line in lines[1:-1]:
        if continued or ":" in line:     # header lines (Comment: ...), possibly continued with a backslash
            continued = line.endswith("\\")
            continue
        body.append(line)
    return "".join(body)


def parse(key_data: str) -> tuple[str, int]:
    """(algorithm, bits) of a valid key; raises BadKey."""
    if not isinstance(key_data, str) or not key_data.strip():
        raise BadKey("empty")
    blob_text = _rfc4716(key_data)
    declared = None
    if blob_text is None:
        parts = key_data.strip().split()
        if len(parts) < 2:
            raise BadKey("no key type or no key")
        declared, blob_text = parts[0], parts[1]
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", blob_text or ""):
        raise BadKey("not base64")
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey("not base64") from None
    fields = _fields(blob)
    if not fields:
        raise BadKey("empty blob")
    algorithm = fields[0].decode("ascii", "replace")
    if declared is not None and declared != algorithm:
        raise BadKey("the key type does not match the blob")
    if algorithm == "ssh-rsa":
        if len(fields) != 3:
            raise BadKey("rsa: wrong field count")
        bits = _mpint_bits(fields[2])
        if bits < RSA_MIN_BITS:
            raise BadKey(f"rsa: {bits} bits")
        return algorithm, bits
    if algorithm == "ssh-ed25519":
        if len(fields) != 2 or len(fields[1]) != 32:
            raise BadKey("ed25519: wrong key size")
        return algorithm, 256
    if algorithm.startswith("ecdsa-sha2-"):
        curve = algorithm.removeprefix("ecdsa-sha2-")
        if curve not in ECDSA_POINT_BYTES or len(fields) != 3 or fields[1].decode("ascii", "replace") != curve:
            raise BadKey("ecdsa: unknown curve")
        if len(fields[2]) != ECDSA_POINT_BYTES[curve] or fields[2][:1] != b"\x04":
            raise BadKey("ecdsa: wrong point")
        return algorithm, int(curve.removeprefix("nistp"))
    raise BadKey(f"unsupported key type {algorithm!r}")


def check_public_keys(keys: list) -> None:
    """Every publicKeys[] entry: keyData present and valid (Azure does not say which entry failed)."""
    for entry in keys or []:
        if not isinstance(entry, dict):
            raise InvalidParameter(MESSAGE, details=[{"target": "linuxConfiguration.ssh.publicKeys.keyData"}])
        try:
            parse(entry.get("keyData"))
        except BadKey:
            raise InvalidParameter(MESSAGE,
                                   details=[{"target": "linuxConfiguration.ssh.publicKeys.keyData"}]) from None
