"""The signed link: a round trip, and every way a link is refused; the documented PHP and Node
snippets make the same tokens as make_link."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal.links import LinkRefused, make_link, make_token, read_claims, read_link
from tests.conftest import ROOT

SECRET = b"portal-test-secret"
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def order() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "examples" / "laptop.json").read_text())["order"]
    return loaded


def token_of(link: str) -> str:
    return link.rsplit("/r/", 1)[1]


def test_round_trip() -> None:
    link = make_link(order(), SECRET, timedelta(days=30), "https://shop.example/", locale="en", now=NOW)
    assert link.startswith("https://shop.example/r/")
    claims = read_claims(token_of(link), SECRET, NOW + timedelta(days=29))
    assert claims.order.order_id == "O-7002" and claims.locale == "en"
    assert claims.order_json == order()
    assert claims.exp == int((NOW + timedelta(days=30)).timestamp())
    assert read_link(token_of(link), SECRET, NOW).lines[1].gift_for == "L1"


def refusal(token: str, secret: bytes = SECRET, now: datetime = NOW) -> str:
    with pytest.raises(LinkRefused) as e:
        read_link(token, secret, now)
    return e.value.reason


def test_a_changed_byte_anywhere_is_tampered() -> None:
    token = token_of(make_link(order(), SECRET, timedelta(days=1), "", now=NOW))
    body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[raw.index(b"899.00")] = ord("9")  # "999.00": a dearer laptop
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert refusal(f"{forged}.{signature}") == "tampered"
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert refusal(f"{body}.{flipped}") == "tampered"
    assert refusal(token, secret=b"another shop's secret") == "tampered"


def test_expired() -> None:
    token = token_of(make_link(order(), SECRET, timedelta(days=1), "", now=NOW))
    assert read_link(token, SECRET, NOW + timedelta(hours=23)).order_id == "O-7002"
    assert refusal(token, now=NOW + timedelta(days=1)) == "expired"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.abc", "e30.%%%", "a" * 300_000])
def test_malformed(token: str) -> None:
    assert refusal(token) == "malformed"


def test_a_signed_bad_order_is_refused() -> None:
    exp = int((NOW + timedelta(days=1)).timestamp())
    bad = order()
    bad["lines"][1]["gift_for"] = "L9"  # names no line
    assert refusal(make_token({"order": bad, "exp": exp}, SECRET)) == "malformed"
    assert refusal(make_token({"order": {**order(), "currency": "USD"}, "exp": exp}, SECRET)) == "malformed"
    assert refusal(make_token({"order": order(), "exp": "soon"}, SECRET)) == "malformed"
    assert refusal(make_token({"order": order(), "exp": exp, "locale": "de"}, SECRET)) == "malformed"
    with pytest.raises(ValueError, match="not a valid order"):
        make_link(bad, SECRET, timedelta(days=1), "")


def snippet(language: str) -> str:
    doc = (ROOT / "docs" / "portal.md").read_text()
    found = re.search(rf"```{language}\n(.*?)```", doc, flags=re.S)
    assert found, f"docs/portal.md has no {language} snippet"
    return found.group(1)


def same_as_make_link(link: str) -> None:
    """The snippet's link is read by the service and is exactly what make_token makes."""
    claims = read_claims(token_of(link), SECRET, datetime.now(UTC))
    assert claims.order_json == order() and claims.locale == "en"
    expected = make_token({"order": order(), "exp": claims.exp, "locale": "en"}, SECRET)
    assert token_of(link) == expected
    assert link.startswith("https://shop.example/r/")


def test_the_documented_node_snippet_makes_make_links_token() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = snippet("js") + (
        "\nconst order = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
        f"\nprocess.stdout.write(returnsPortalLink(order, {SECRET.decode()!r}, "
        "'https://shop.example/', 30, 'en'));"
    )
    done = subprocess.run(
        [node, "-e", script], input=json.dumps(order()), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    same_as_make_link(done.stdout)


def test_the_documented_php_snippet_makes_make_links_token(tmp_path: Path) -> None:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed")
    (tmp_path / "order.json").write_text(json.dumps(order()))
    script = tmp_path / "link.php"
    script.write_text(
        snippet("php")
        + "\n$order = json_decode(file_get_contents($argv[1]), true);"
        + f"\necho returns_portal_link($order, '{SECRET.decode()}', 'https://shop.example/', 30, 'en');\n"
    )
    done = subprocess.run(
        [php, str(script), str(tmp_path / "order.json")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    same_as_make_link(done.stdout)
