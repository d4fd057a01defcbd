"""The fleet's admin SSH public key: validated as Azure validates it, or generated fresh per fleet.

Azure refuses a malformed `keyData` (400 InvalidParameter "The value of parameter
linuxConfiguration.ssh.publicKeys.keyData is invalid") and RSA keys under 2048 bits; it accepts ssh-rsa,
ssh-ed25519 (compute API 2023-09-01 and later) and ecdsa-sha2-nistp256/384/521. `check_public_key` applies the
same rules when settings load, so a bad key fails before any Azure call.

When no key is configured, `generate_public_key` makes a fresh ed25519 pair with `cryptography` and returns only
the public half: the private key never leaves this function, is never written or logged. Immutable fleets are
not logged into; the break-glass path is in the README ("Logging into an instance").
"""

from __future__ import annotations

from pathlib import Path

RSA_MIN_BITS = 2048
KEY_PREFIXES = ("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")


def looks_like_key(value: str) -> bool:
    """A key written inline (as opposed to a path to a .pub file)."""
    return value.strip().startswith(KEY_PREFIXES)


def check_public_key(text: str) -> str:
    """The key line, stripped, when it is one Azure accepts; raises ValueError saying why not."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    line = " ".join(text.strip().split())
    if "\n" in text.strip() or not line:
        raise ValueError("is not a single-line OpenSSH public key")
    try:
        key = load_ssh_public_key(line.encode())
    except (ValueError, TypeError) as err:   # cryptography's "not a key" / "unsupported key type"
        raise ValueError(f"is not a valid OpenSSH public key ({err})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < RSA_MIN_BITS:
            raise ValueError(f"is an RSA key of {key.key_size} bits; Azure needs at least {RSA_MIN_BITS}")
    elif not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        raise ValueError("is not an ssh-rsa, ssh-ed25519 or ecdsa-sha2 key, the types Azure accepts")
    return line


def read_public_key(value: str, *, base: Path = Path(".")) -> str:
    """The setting's value (a key, or a path to a .pub file, relative to `base`) as a checked key line."""
    if looks_like_key(value):
        return check_public_key(value)
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"names {str(path)!r}, which cannot be read ({err.strerror or err})") from None
    if "PRIVATE KEY" in text:
        raise ValueError(f"names {str(path)!r}, which holds a private key; give the .pub file")
    return check_public_key(text)


def generate_public_key(comment: str = "bluegreen-fleet") -> str:
    """A fresh ed25519 public key line; the private half is discarded."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    data = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{data} {comment}"
