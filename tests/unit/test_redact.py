"""The redactor replaces every configured provider key and its obvious encodings."""

from __future__ import annotations

import base64
import urllib.parse

from app.providers.redact import REDACTED, Redactor

KEY = "sk-test/AbCdEf+123456789"


def test_plain_key_in_text_and_bytes() -> None:
    redactor = Redactor(["K"], {"K": KEY})
    assert redactor.text(f"invalid x-api-key: {KEY}.") == f"invalid x-api-key: {REDACTED}."
    assert redactor.bytes(f'{{"error": "{KEY}"}}'.encode()) == f'{{"error": "{REDACTED}"}}'.encode()


def test_encodings_are_redacted() -> None:
    redactor = Redactor(["K"], {"K": KEY})
    for spelling in (
        f"Bearer {KEY}",
        urllib.parse.quote(KEY, safe=""),
        KEY.replace("/", "\\/"),
        base64.b64encode(KEY.encode()).decode(),
        base64.urlsafe_b64encode(KEY.encode()).decode(),
    ):
        assert KEY not in redactor.text(spelling)
        assert REDACTED in redactor.text(spelling), spelling


def test_headers_and_several_keys() -> None:
    redactor = Redactor(["A", "B"], {"A": "first-secret-value", "B": "second-secret-value"})
    headers = redactor.headers({"x-echo": "first-secret-value second-secret-value", "x-ok": "fine"})
    assert headers == {"x-echo": f"{REDACTED} {REDACTED}", "x-ok": "fine"}


def test_short_or_missing_values_are_ignored() -> None:
    redactor = Redactor(["SHORT", "UNSET"], {"SHORT": "abc"})
    assert not redactor.active
    assert redactor.text("abc is fine") == "abc is fine"


def test_rotated_key_is_picked_up() -> None:
    environ = {"K": "old-secret-value"}
    redactor = Redactor(["K"], environ)
    environ["K"] = "new-secret-value"
    assert redactor.text("old-secret-value new-secret-value") == f"old-secret-value {REDACTED}"
