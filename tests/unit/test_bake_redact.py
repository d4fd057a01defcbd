"""Redactor: known secrets and SAS signatures never reach logs."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.redact import MASK, Redactor

SAS = "https://acct.blob.core.windows.net/packages/app.tar.gz?sv=2025-11-05&se=2030-01-01&sp=r&sig=AbC%2Bd%3D"


def test_known_secret_masked_everywhere():
    redactor = Redactor.of(SAS)
    text = f"downloading {SAS} then again {SAS}"
    out = redactor.redact(text)
    assert "AbC" not in out and "acct.blob" not in out
    assert out.count(MASK) == 2


def test_sas_signature_masked_even_when_url_unknown():
    out = Redactor().redact("GET https://other/x?se=1&sig=SECRETSIG&sp=r done")
    assert "SECRETSIG" not in out
    assert "sig=" + MASK + "&sp=r" in out


def test_packer_comma_escaping_and_url_quoting_are_masked():
    redactor = Redactor.of("pa,ss/word")
    assert "pa" not in redactor.redact("x pa%!(PACKER_COMMA)ss/word y").replace("pass", "")
    assert redactor.redact("v=pa%2Css%2Fword") == "v=" + MASK


def test_empty_and_none_secrets_are_ignored_and_redactor_is_frozen():
    redactor = Redactor.of("", None)
    assert redactor.redact("nothing secret") == "nothing secret"
    with pytest.raises(dataclasses.FrozenInstanceError):
        redactor.secrets = ("x",)


def test_longer_secret_masked_whole():
    redactor = Redactor.of("abc", "abcdef")
    assert redactor.redact("abcdef") == MASK
