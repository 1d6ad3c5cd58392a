"""Drive return cases from the command line (contract section 5). Prints the case view as JSON;
a refused or invalid input prints one line on stderr and exits 2.

    python3 starter.py submit REQUEST.json
    python3 starter.py status RETURN_ID
    python3 starter.py photos RETURN_ID LINE_ID PHOTO...
    python3 starter.py choose RETURN_ID RESOLUTION
    python3 starter.py parcel RETURN_ID
    python3 starter.py inspect RETURN_ID (--passed | --failed) [--note TEXT]
    python3 starter.py repaired RETURN_ID [--note TEXT]
    python3 starter.py cancel RETURN_ID
    python3 starter.py override RETURN_ID TYPE --actor A --reason R [--kind K] [--resolution R]
    python3 starter.py mail RETURN_ID     (what the customer received: the embedded mail sink)
    python3 starter.py link ORDER.json [--days 30] [--base-url URL] [--locale nl|en]
                                          (the customer's return portal link for an order)

Env: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE, RETURNS_TASK_QUEUE,
RETURNS_CODEC_KEYS (default: the embedded stack's key file under RETURNS_DATA_DIR, .data),
RETURNS_MAIL_DIR (mail: default RETURNS_DATA_DIR/mail), RETURNS_PORTAL_SECRET (link: default the
embedded stack's portal-secret file), RETURNS_PORTAL_URL (link: the API's base URL).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NoReturn

from temporalio.service import RPCError

from domain.request import InvalidRequest, parse_request
from domain.view import CaseView
from returns_client import CaseNotFound, PayloadKeyError, Refused, ReturnsClient


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One clear line and exit 2, like every other refusal.
        print(one_line(f"usage error: {message}"), file=sys.stderr)
        raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="starter.py", description="Drive return cases.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("submit", help="start a case from a request file").add_argument("request", type=Path)
    sub.add_parser("status").add_argument("return_id")
    photos = sub.add_parser("photos")
    photos.add_argument("return_id")
    photos.add_argument("line_id")
    photos.add_argument("photos", nargs="+")
    choose = sub.add_parser("choose")
    choose.add_argument("return_id")
    choose.add_argument("resolution")
    sub.add_parser("parcel").add_argument("return_id")
    inspect = sub.add_parser("inspect")
    inspect.add_argument("return_id")
    verdict = inspect.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--passed", action="store_true")
    verdict.add_argument("--failed", action="store_true")
    inspect.add_argument("--note", default="")
    repaired = sub.add_parser("repaired", help="the warehouse reports the repair done")
    repaired.add_argument("return_id")
    repaired.add_argument("--note", default="")
    sub.add_parser("cancel").add_argument("return_id")
    sub.add_parser("mail", help="print the mails the customer received (embedded mail sink)").add_argument(
        "return_id"
    )
    link = sub.add_parser("link", help="print a signed return portal link for an order (docs/portal.md)")
    link.add_argument("order", type=Path, help="the order JSON, or a request file holding one")
    link.add_argument("--days", type=int, default=30, help="valid for this many days (default 30)")
    link.add_argument("--base-url", default=None, help="the API's address (default RETURNS_PORTAL_URL)")
    link.add_argument("--locale", choices=("nl", "en"), default=None)
    override = sub.add_parser("override")
    override.add_argument("return_id")
    override.add_argument("type")
    override.add_argument("--actor", required=True)
    override.add_argument("--reason", required=True)
    override.add_argument("--kind")
    override.add_argument("--resolution")
    return p


async def run(args: argparse.Namespace) -> CaseView:
    if args.command == "submit":
        try:
            body = args.request.read_bytes()
        except OSError as e:
            raise InvalidRequest(f"cannot read {args.request}: {e.strerror}") from None
        # Validate before connecting: an invalid request starts nothing, server or not.
        request = parse_request(body)
        return await (await ReturnsClient.connect()).submit(request)
    rc = await ReturnsClient.connect()
    rid = args.return_id
    match args.command:
        case "status":
            return await rc.status(rid)
        case "photos":
            return await rc.submit_photos(rid, args.line_id, args.photos)
        case "choose":
            return await rc.choose_resolution(rid, args.resolution)
        case "parcel":
            return await rc.parcel_received(rid)
        case "inspect":
            return await rc.inspection_result(rid, passed=args.passed, note=args.note)
        case "repaired":
            return await rc.repair_completed(rid, note=args.note)
        case "cancel":
            return await rc.cancel(rid)
        case "override":
            return await rc.override(
                rid,
                args.type,
                actor=args.actor,
                reason=args.reason,
                kind=args.kind,
                resolution=args.resolution,
            )
    raise AssertionError(args.command)


def one_line(message: str, limit: int = 500) -> str:
    """Refusals may echo input: control characters escaped (a newline in a return_id must not
    forge a second line in someone's log) and long values cut."""
    text = message.translate({c: f"\\x{c:02x}" for c in (*range(32), 127)})
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def link(args: argparse.Namespace) -> int:
    """The customer's link: no Temporal needed, only the order and the portal secret."""
    import json
    import os
    from datetime import timedelta

    from portal.links import make_link
    from portal.settings import PortalConfigError, portal_secret

    try:
        loaded = json.loads(args.order.read_text())
        order = loaded.get("order", loaded) if isinstance(loaded, dict) else loaded
        base = args.base_url or os.environ.get("RETURNS_PORTAL_URL") or "http://127.0.0.1:8000"
        if args.days < 1:
            raise ValueError("--days must be 1 or more")
        print(make_link(order, portal_secret(), timedelta(days=args.days), base, locale=args.locale))
    except (OSError, ValueError, PortalConfigError) as e:
        print(one_line(str(e)), file=sys.stderr)
        return 2
    return 0


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "link":
        return link(args)
    if args.command == "mail":
        from mail.mailbox import NoMail, received

        try:
            print(received(args.return_id))
        except NoMail as e:
            print(one_line(str(e)), file=sys.stderr)
            return 2
        return 0
    try:
        view = asyncio.run(run(args))
    except (InvalidRequest, Refused, CaseNotFound) as e:
        print(one_line(str(e)), file=sys.stderr)
        return 2
    except PayloadKeyError as e:  # keys missing or wrong: a setting, not the input
        print(one_line(f"{e} (set RETURNS_CODEC_KEYS to the worker's keys)"), file=sys.stderr)
        return 1
    except RPCError as e:  # the server refused the call itself (not the case): one line, no traceback
        print(one_line(f"Temporal refused the call: {e.message}"), file=sys.stderr)
        return 1
    except RuntimeError as e:
        if "connect" in str(e).lower():
            print(f"cannot reach Temporal: {e}", file=sys.stderr)
            return 1
        raise
    print(view.model_dump_json(indent=2))
    return 0


def cli() -> NoReturn:
    """The console script; `python starter.py` does the same."""
    from stack.runtime import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
