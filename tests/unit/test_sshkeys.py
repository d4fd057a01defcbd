"""The fleet's SSH key and Trusted Launch settings: validated when settings load (one line naming the setting,
exit code 2), a fresh ed25519 key per fleet otherwise. Pure: no sockets."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pipeline import sshkeys
from pipeline.config import load_settings
from pipeline.errors import ConfigError

TOML = Path(__file__).resolve().parents[2] / "pipeline.toml"
OLD_PLACEHOLDER = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJsdWVncmVlbi1waXBlbGluZS1wbGFjZWhvbGRlci1rZXk "
                   "bluegreen-placeholder")


def public(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.toml"
    shutil.copy(TOML, path)
    return path


def test_the_key_types_azure_accepts_pass():
    for private in (ed25519.Ed25519PrivateKey.generate(), rsa.generate_private_key(public_exponent=65537, key_size=2048),
                    ec.generate_private_key(ec.SECP384R1())):
        line = public(private) + " me@laptop"
        assert sshkeys.check_public_key("  " + line + "\n") == line


@pytest.mark.parametrize("text, why", [
    (OLD_PLACEHOLDER, "not a valid OpenSSH public key"),
    ("ssh-rsa AAAA", "not a valid OpenSSH public key"),
    ("hello", "not a valid OpenSSH public key"),
    ("", "single-line"),
])
def test_malformed_keys_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        sshkeys.check_public_key(text)


def test_short_rsa_keys_are_refused():
    small = public(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ValueError, match="1024 bits; Azure needs at least 2048"):
        sshkeys.check_public_key(small)


def test_a_generated_key_is_a_fresh_valid_ed25519_public_key():
    first, second = sshkeys.generate_public_key("fleet-a"), sshkeys.generate_public_key("fleet-a")
    assert first != second and first.startswith("ssh-ed25519 ") and first.endswith(" fleet-a")
    assert sshkeys.check_public_key(first) == first and "PRIVATE" not in first


def test_the_setting_takes_a_key_or_a_pub_file_and_refuses_a_private_key(toml, tmp_path):
    key = public(ed25519.Ed25519PrivateKey.generate()) + " ci"
    settings = load_settings(path=toml, environ={"PIPELINE__FLEET__SSH_PUBLIC_KEY": key})
    assert settings.fleet.ssh_public_key == key
    (tmp_path / "admin.pub").write_text(key + "\n")
    settings = load_settings(path=toml, environ={}, overrides={"fleet.ssh_public_key": "admin.pub"})
    assert settings.fleet.ssh_public_key == key                     # relative to the config file
    private = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    (tmp_path / "admin").write_bytes(private)
    with pytest.raises(ConfigError, match="holds a private key") as err:
        load_settings(path=toml, environ={}, overrides={"fleet.ssh_public_key": str(tmp_path / "admin")})
    assert "BEGIN" not in str(err.value)                            # never echoes the key material


def test_bad_fleet_settings_are_one_line_naming_the_setting_exit_2(toml):
    cases = [({"PIPELINE__FLEET__SSH_PUBLIC_KEY": OLD_PLACEHOLDER}, "environments.local.fleet.ssh_public_key"),
             ({"PIPELINE__FLEET__SSH_PUBLIC_KEY": "/no/such/key.pub"}, "environments.local.fleet.ssh_public_key"),
             ({"PIPELINE__FLEET__SECURITY_TYPE": "ConfidentialVM"}, "environments.local.fleet.security_type")]
    for environ, key in cases:
        with pytest.raises(ConfigError) as err:
            load_settings(path=toml, environ=environ)
        message = str(err.value)
        assert key in message and "\n" not in message and ";" in message and err.value.exit_code == 2


def test_fleet_defaults_and_azure_sized_polling(toml):
    local = load_settings(path=toml, environ={})
    assert local.fleet.ssh_public_key is None and local.fleet.security_type == "TrustedLaunch"
    assert local.fleet.poll_interval_s == 1.0
    azure = load_settings(path=toml, environment="azure-example", environ={})
    assert azure.fleet.instance_poll_interval == timedelta(seconds=15)
    assert load_settings(path=toml, environment="azure-example", environ={},
                         overrides={"fleet.security_type": "Standard"}).fleet.security_type == "Standard"
    with pytest.raises(ConfigError, match="fleet.instance_poll_interval is 5s, below Azure's 10s"):
        load_settings(path=toml, environment="azure-example", environ={},
                      overrides={"fleet.instance_poll_interval": "5s"})
