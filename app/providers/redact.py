"""Provider secrets never leave the process, even when a provider echoes them back.

Some providers quote the credential in their own error text (``invalid x-api-key: sk-…``) or
headers. Everything the gateway derives from a provider response — error messages, recorded raw
responses and headers, log lines, spill files — passes through :class:`Redactor` first, which
replaces every configured key value and its obvious encodings with ``[redacted]``.

Key values are read from the environment variables the config names, and re-read when they
change, because providers read their key at call time (rotation needs no reload). Values
shorter than :data:`MIN_SECRET_CHARS` are ignored: redacting ``"abc"`` everywhere would mangle
ordinary text and such a value is no credential. See docs/security.md.

One redactor is built per config version, for the keys of all its providers
(:func:`app.providers.registry.build_providers`), and given to every HTTP provider, which
passes each response body, stream event and error text through it before anything else sees
them. A provider never answers with another provider's key unredacted either.
"""

from __future__ import annotations

import base64
import builtins
import os
import urllib.parse
from collections.abc import Iterable, Mapping

REDACTED = "[redacted]"
_REDACTED_BYTES = REDACTED.encode()
MIN_SECRET_CHARS = 8


def encodings(secret: str) -> set[str]:
    """The spellings of ``secret`` a response may carry: as is, URL-quoted, JSON-escaped,
    and base64 (standard and URL-safe, as in HTTP Basic credentials)."""
    raw = secret.encode()
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        secret.replace("/", "\\/"),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


class Redactor:
    """Replaces the current values of the named environment variables in text and bytes."""

    def __init__(self, env_names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        self._names = tuple(sorted(set(env_names)))
        self._environ = os.environ if environ is None else environ
        self._values: tuple[str | None, ...] = ()
        self._needles: tuple[str, ...] = ()
        self._byte_needles: tuple[bytes, ...] = ()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the key values (a tuple of environment lookups; rebuilds only on change)."""
        values = tuple(self._environ.get(name) for name in self._names)
        if values == self._values:
            return
        spellings: set[str] = set()
        for value in values:
            if value and len(value) >= MIN_SECRET_CHARS:
                spellings |= encodings(value)
        # Longest first, so a secret's encoding that contains another is replaced whole.
        self._needles = tuple(sorted(spellings, key=len, reverse=True))
        self._byte_needles = tuple(needle.encode() for needle in self._needles)
        self._values = values

    def text(self, value: str) -> str:
        self.refresh()
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value

    def bytes(self, value: bytes) -> bytes:
        self.refresh()
        return self.scrub(value)

    def scrub(self, value: builtins.bytes) -> builtins.bytes:
        """:meth:`bytes` without re-reading the environment: for the events of one stream,
        after one :meth:`refresh` when it opened. A few substring checks per call."""
        for needle in self._byte_needles:
            if needle in value:
                value = value.replace(needle, _REDACTED_BYTES)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name: self.text(value) for name, value in headers.items()}

    @property
    def active(self) -> bool:
        self.refresh()
        return bool(self._needles)
