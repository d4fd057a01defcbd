"""Mask secrets in any text before it is logged, printed or put in an exception.

    redactor = Redactor.of(sas_url, client_secret)
    log.info("%s", redactor.redact(line))

Known secret values are replaced wherever they appear (also URL-quoted, and in Packer's
machine-readable escaping), and the `sig=` signature of any SAS URL is masked even when the URL
itself is not known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

MASK = "<redacted>"

_SAS_SIG = re.compile(r"(?i)([?&]sig=)[^&\s\"'<>,]+")


def _variants(secret: str) -> set[str]:
    variants = {secret, quote(secret, safe=""), quote(secret, safe="/:")}
    variants |= {v.replace(",", "%!(PACKER_COMMA)") for v in list(variants)}
    return {v for v in variants if v}


@dataclass(frozen=True)
class Redactor:
    """Immutable; `with_secrets` returns a new Redactor that also masks the given values."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, *secrets: str | None) -> Redactor:
        return cls().with_secrets(*secrets)

    def with_secrets(self, *secrets: str | None) -> Redactor:
        known = set(self.secrets)
        for secret in secrets:
            if secret:
                known |= _variants(str(secret))
        # Longest first, so a secret that contains another is masked whole.
        return Redactor(secrets=tuple(sorted(known, key=lambda s: (-len(s), s))))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _SAS_SIG.sub(lambda m: m.group(1) + MASK, text)

    __call__ = redact
