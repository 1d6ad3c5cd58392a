"""docker-compose.yml, the Dockerfile and deploy/ checked without Docker (there is no engine on
the development machine): the file against the Compose Specification's JSON schema (vendored in
deploy/compose-spec.json), and against the code: the worker's env vars are worker.ENV_VARS, its
addresses reach services on ports they listen on with the credentials deploy/postgres/initdb
creates, the search attributes are those the worker registers (workflows.search_attributes),
dependencies wait on real health checks, and images are pinned. Each check returns its problems,
and a mutated copy of the file shows that each one can fail."""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

import worker
from store.db import APP_ROLE
from workflows.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec.json"
INIT_SQL_DIR = ROOT / "deploy" / "postgres" / "initdb"

WORKER = "worker"
NAMESPACE_JOB = "temporal-namespace"
REQUIRED_WORKER_ENV = ("TEMPORAL_ADDRESS", "DATABASE_URL")

Compose = dict[str, Any]


# --- reading ---------------------------------------------------------------------------------
def load_compose() -> Compose:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two spellings the file uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def container_ports(service: dict[str, Any]) -> set[int]:
    """Ports the service's container listens on, from `expose` and the container side of `ports`."""
    ports = {int(p) for p in service.get("expose", [])}
    for p in service.get("ports", []):
        target = p["target"] if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
        ports.add(int(target))
    return ports


def search_attributes_created(compose: Compose) -> dict[str, str]:
    pairs = env_of(compose["services"][NAMESPACE_JOB]).get("SEARCH_ATTRIBUTES", "").split()
    return dict(pair.split("=", 1) for pair in pairs)


def init_sql() -> str:
    return "\n".join(p.read_text() for p in sorted(INIT_SQL_DIR.glob("*.sql")))


def sql_roles(sql: str) -> dict[str, str]:
    """Login roles and their passwords created by the init scripts."""
    return dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql, re.IGNORECASE))


def app_logins(sql: str) -> set[str]:
    """Logins in the service's append-only role (store/migrations/004_app_role.sql)."""
    return set(re.findall(rf"CREATE ROLE (\w+) LOGIN PASSWORD '[^']*' IN ROLE {APP_ROLE}\b", sql, re.I))


def sql_databases(sql: str) -> dict[str, str]:
    """Databases and their owners created by the init scripts."""
    return dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql, re.IGNORECASE))


# --- checks: each returns the problems it finds ----------------------------------------------
def schema_problems(compose: Compose) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The file declares draft-07 by a URL jsonschema does not map, so name the draft here.
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]


def _reaches(compose: Compose, what: str, host: str | None, port: int | None) -> list[str]:
    services = compose["services"]
    if host not in services:
        return [f"{what}: host {host!r} is not a service"]
    if port not in container_ports(services[host]):
        return [f"{what}: {host} does not listen on port {port}"]
    return []


def worker_env_problems(compose: Compose, sql: str) -> list[str]:
    services = compose["services"]
    env = env_of(services[WORKER])
    problems = [f"{name} is not in worker.ENV_VARS" for name in env if name not in worker.ENV_VARS]
    problems += [f"{name} is not set" for name in REQUIRED_WORKER_ENV if not env.get(name)]
    if problems:
        return problems

    host, _, port = env["TEMPORAL_ADDRESS"].rpartition(":")
    problems += _reaches(compose, "TEMPORAL_ADDRESS", host, int(port))

    owner = urlsplit(env.get("DATABASE_ADMIN_URL") or env["DATABASE_URL"])
    roles = sql_roles(sql)
    for name in ("DATABASE_ADMIN_URL", "DATABASE_URL"):
        if not env.get(name):
            continue
        url = urlsplit(env[name])
        if url.scheme not in ("postgresql", "postgres"):
            problems.append(f"{name}: scheme {url.scheme!r} is not postgresql")
        problems += _reaches(compose, name, url.hostname, url.port)
        if url.username is None or roles.get(url.username) != url.password:
            problems.append(f"{name}: no role {url.username!r} with that password in {INIT_SQL_DIR}")
    database = owner.path.lstrip("/")
    if sql_databases(sql).get(database) != owner.username:
        problems.append(f"DATABASE_ADMIN_URL: no database {database!r} owned by {owner.username!r}")
    service = urlsplit(env["DATABASE_URL"])
    if service.path != owner.path:
        problems.append("DATABASE_URL: not the database DATABASE_ADMIN_URL migrates")
    if service.username == owner.username or service.username not in app_logins(sql):
        problems.append(f"DATABASE_URL: {service.username!r} is not a login in role {APP_ROLE} (append-only)")

    policy = env.get("RETURNS_POLICY")
    if policy and not (ROOT / policy).is_file():  # the image's WORKDIR is a copy of the repository
        problems.append(f"RETURNS_POLICY: {policy} is not in the repository")
    namespaces = {
        "worker": env.get("TEMPORAL_NAMESPACE", "default"),
        NAMESPACE_JOB: env_of(services[NAMESPACE_JOB]).get("TEMPORAL_NAMESPACE"),
        "temporal-ui": env_of(services["temporal-ui"]).get("TEMPORAL_DEFAULT_NAMESPACE"),
    }
    if len(set(namespaces.values())) != 1:
        problems.append(f"namespaces differ: {namespaces}")
    return problems


def temporal_db_problems(compose: Compose, sql: str) -> list[str]:
    """The Temporal server and its schema job use a role and databases the init scripts create."""
    services = compose["services"]
    roles, databases = sql_roles(sql), sql_databases(sql)
    server, schema_job = env_of(services["temporal"]), env_of(services["temporal-schema"])
    problems = []
    logins = {
        "temporal": [server[k] for k in ("POSTGRES_USER", "POSTGRES_PWD", "POSTGRES_SEEDS", "DB_PORT")],
        "temporal-schema": [schema_job[k] for k in ("SQL_USER", "SQL_PASSWORD", "SQL_HOST", "SQL_PORT")],
    }
    for who, (user, password, host, port) in logins.items():
        if roles.get(user) != password:
            problems.append(f"{who}: no role {user!r} with that password in {INIT_SQL_DIR}")
        problems += _reaches(compose, who, host, int(port))
    for db in (server["DBNAME"], server["VISIBILITY_DBNAME"]):
        if databases.get(db) != server["POSTGRES_USER"]:
            problems.append(f"temporal: no database {db!r} owned by {server['POSTGRES_USER']!r}")
    if {schema_job["TEMPORAL_DB"], schema_job["VISIBILITY_DB"]} != {
        server["DBNAME"],
        server["VISIBILITY_DBNAME"],
    }:
        problems.append("temporal-schema sets up other databases than the server uses")
    return problems


def search_attribute_problems(compose: Compose) -> list[str]:
    created = search_attributes_created(compose)
    if created != SEARCH_ATTRIBUTES:
        return [f"search attributes created {created} != SEARCH_ATTRIBUTES {SEARCH_ATTRIBUTES}"]
    return []


def one_shot(service: dict[str, Any]) -> bool:
    """A job that runs once: it says so with `restart: "no"`; everything else runs for good."""
    return service.get("restart") == "no"


def dependency_problems(compose: Compose) -> list[str]:
    services = compose["services"]
    problems = []
    for name, service in services.items():
        for target, dep in (service.get("depends_on") or {}).items():
            condition = dep["condition"] if isinstance(dep, dict) else "service_started"
            if target not in services:
                problems.append(f"{name} depends on {target}, which is no service")
            elif condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name} waits for {target} to be healthy, but it has no healthcheck")
            elif condition == "service_completed_successfully" and not one_shot(services[target]):
                problems.append(f"{name} waits for {target} to complete, but it restarts")
            elif condition == "service_started":
                problems.append(f"{name} depends on {target} without waiting for health or completion")
    return problems


def healthcheck_problems(compose: Compose) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        check = service.get("healthcheck") or {}
        if one_shot(service):
            continue
        if check.get("disable") or not check.get("test") or check["test"][0] == "NONE":
            problems.append(f"{name} runs for good but has no healthcheck")
    return problems


def mount_problems(compose: Compose) -> list[str]:
    """Bind mounts name files in the repository, one-shot jobs run a script they mount, and
    Temporal's dynamic config is a file it mounts."""
    problems = []
    for name, service in compose["services"].items():
        mounts = {}  # container path -> repository path
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts[target] = ROOT / source
                if not (ROOT / source).exists():
                    problems.append(f"{name} mounts {source}, which does not exist")
        if one_shot(service):
            scripts = [a for a in service.get("entrypoint", []) if a.endswith(".sh")]
            if not scripts or not set(scripts) <= set(mounts):
                problems.append(f"{name} runs {scripts}, not a script it mounts")
        if config := env_of(service).get("DYNAMIC_CONFIG_FILE_PATH"):
            folder, file = config.rsplit("/", 1)
            if folder not in mounts or not (mounts[folder] / file).is_file():
                problems.append(f"{name}: DYNAMIC_CONFIG_FILE_PATH {config} is no file it mounts")
    return problems


PINNED = re.compile(r"^[\w./-]+(:(?!latest$)[\w.-]*\d[\w.-]*)(@sha256:[0-9a-f]{64})?$")


def image_problems(compose: Compose, dockerfile: str) -> list[str]:
    images = {name: s["image"] for name, s in compose["services"].items() if "image" in s}
    images |= {f"Dockerfile FROM {i}": i for i in re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)}
    return [
        f"{where}: image {image!r} is not pinned to a version"
        for where, image in images.items()
        if not PINNED.match(image)
    ]


def ignored(path: str, dockerignore: str) -> bool:
    """Whether .dockerignore keeps ``path`` (or a folder above it) out of the build context."""
    verdict = False
    for line in dockerignore.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/").removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], pattern) for p in prefixes
        ):
            verdict = not negate
    return verdict


# What the worker process imports: worker.py, its health check, and the modules it imports
# inside functions (the embedded stack) or under __main__ (the runtime).
_LIST_IMPORTS = """
import sys
from pathlib import Path
import worker, deploy.healthcheck, stack.embedded, stack.runtime
root = Path.cwd().resolve()
venv = Path(sys.prefix).resolve()  # README's .venv lives inside the checkout
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f and Path(f).resolve().is_relative_to(root) and not Path(f).resolve().is_relative_to(venv):
        print(Path(f).resolve().relative_to(root))
"""


@functools.cache
def worker_files() -> list[str]:
    """The repository files the worker needs at run time: every local module it imports, the
    policies and the SQL migrations."""
    done = subprocess.run(
        [sys.executable, "-c", _LIST_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    files = set(done.stdout.split())
    files |= {str(p.relative_to(ROOT)) for p in (ROOT / "policies").glob("*.json")}
    files |= {str(p.relative_to(ROOT)) for p in (ROOT / "store" / "migrations").glob("*.sql")}
    return sorted(files)


def dockerfile_problems(compose: Compose, dockerfile: str, dockerignore: str) -> list[str]:
    build = compose["services"][WORKER].get("build")
    if build is None:
        return ["the worker is not built from the repository"]
    path = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    if not path.is_file():
        return [f"{path} does not exist"]
    joined = re.sub(r"\\\n", " ", dockerfile)  # one line per instruction
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    instr = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]
    problems = []
    if not any(k == "FROM" and re.match(r"python:3\.11[\w.-]*-slim", v) for k, v in instr):
        problems.append("not built FROM python:3.11-slim")
    if not any(k == "RUN" and re.search(r"pip install (.* )?-r requirements\.txt", v) for k, v in instr):
        problems.append("does not pip install -r requirements.txt")
    if not any(k == "COPY" and v.split()[0] == "." for k, v in instr):
        problems.append("does not COPY the code (COPY . .)")
    users = [v for k, v in instr if k == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the worker runs as root")
    cmd = [v for k, v in instr if k == "CMD"][-1:] or [""]
    argv = json.loads(cmd[0]) if cmd[0].startswith("[") else shlex.split(cmd[0])
    if argv[-1:] != ["worker.py"]:
        problems.append("CMD does not run worker.py")
    problems += [f".dockerignore leaves out {f}" for f in worker_files() if ignored(f, dockerignore)]
    return problems


# --- the file as it is ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def dockerignore() -> str:
    return (ROOT / ".dockerignore").read_text()


def test_compose_file_follows_the_compose_specification(compose: Compose) -> None:
    assert schema_problems(compose) == []


def test_worker_env_is_what_worker_py_reads(compose: Compose) -> None:
    assert worker_env_problems(compose, init_sql()) == []
    assert set(REQUIRED_WORKER_ENV) <= set(env_of(compose["services"][WORKER]))


def test_api_service_serves_the_api_with_the_workers_settings(compose: Compose) -> None:
    """The HTTP API's service: `python -m api serve` on the port it exposes, the worker's database
    and Temporal, and no name worker.py does not know; the scaled workers serve no API."""
    services = compose["services"]
    api, worker_service = services["api"], services[WORKER]
    assert api["command"][:4] == ["python", "-m", "api", "serve"]
    port = int(api["command"][api["command"].index("--port") + 1])
    assert port in container_ports(api)
    env = env_of(api)
    assert [name for name in env if name not in worker.ENV_VARS] == []
    worker_env = env_of(worker_service)
    for name in (
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "DATABASE_URL",
        "RETURNS_CODEC_KEYS",
        "RETURNS_MASTER_KEYS",
    ):
        assert env[name] == worker_env[name], name
    assert worker_env["RETURNS_API_PORT"] == "off"
    assert api["depends_on"][WORKER]["condition"] == "service_healthy"  # it migrated the database


def test_temporal_uses_the_databases_postgres_creates(compose: Compose) -> None:
    assert temporal_db_problems(compose, init_sql()) == []


def test_search_attributes_are_the_workers(compose: Compose) -> None:
    assert search_attribute_problems(compose) == []
    assert search_attributes_created(compose) == SEARCH_ATTRIBUTES


def test_dependencies_wait_for_health_or_completion(compose: Compose) -> None:
    assert dependency_problems(compose) == []
    assert healthcheck_problems(compose) == []


def test_scripts_and_configs_are_mounted_from_deploy(compose: Compose) -> None:
    assert mount_problems(compose) == []
    dynamic = yaml.safe_load((ROOT / "deploy/temporal/dynamicconfig/returns.yaml").read_text())
    assert dynamic and all(isinstance(v, list) and "value" in v[0] for v in dynamic.values())


def run_schema_job(compose: Compose, tmp_path: Path, tool_exit: int = 0) -> tuple[int, list[str]]:
    """The temporal-schema script with its compose env, and a stand-in temporal-sql-tool (the
    real one is in the admin-tools image only) that logs its arguments and exits ``tool_exit``."""
    log = tmp_path / "calls"
    tool = tmp_path / "bin" / "temporal-sql-tool"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit {tool_exit}\n')
    tool.chmod(0o755)
    env = {"PATH": f"{tool.parent}:/usr/bin:/bin"} | env_of(compose["services"]["temporal-schema"])
    script = ROOT / "deploy/temporal/setup-schema.sh"
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    return done.returncode, log.read_text().splitlines() if log.exists() else []


def test_schema_job_sets_up_then_upgrades_both_databases(compose: Compose, tmp_path: Path) -> None:
    code, calls = run_schema_job(compose, tmp_path)
    assert code == 0
    conn = "--plugin postgres12 --ep postgresql --port 5432 --user temporal"
    v12 = "/etc/temporal/schema/postgresql/v12"
    assert calls == [
        f"{conn} --db temporal setup-schema -v 0.0",
        f"{conn} --db temporal update-schema -d {v12}/temporal/versioned",
        f"{conn} --db temporal_visibility setup-schema -v 0.0",
        f"{conn} --db temporal_visibility update-schema -d {v12}/visibility/versioned",
    ]
    # The password reaches the tool through SQL_PASSWORD, never the command line.
    assert not any(flag in c.split() for c in calls for flag in ("--password", "--pw", "-pw"))


def test_schema_job_stops_at_the_first_failure(compose: Compose, tmp_path: Path) -> None:
    code, calls = run_schema_job(compose, tmp_path, tool_exit=1)
    assert code != 0
    assert len(calls) == 1  # the server never starts on a half-made schema


def test_images_are_pinned(compose: Compose, dockerfile: str) -> None:
    assert image_problems(compose, dockerfile) == []


def test_dockerfile_builds_the_worker(compose: Compose, dockerfile: str, dockerignore: str) -> None:
    assert dockerfile_problems(compose, dockerfile, dockerignore) == []
    continued = dockerfile.replace("pip install -r", "pip install \\\n    -r")
    assert continued != dockerfile and dockerfile_problems(compose, continued, dockerignore) == []
    assert "worker.py" in worker_files() and "store/migrations/001_event_store.sql" in worker_files()


# --- each check fails on a broken copy ------------------------------------------------------
Mutation = Callable[[Compose], object]


def svc(name: str, **changes: Any) -> Mutation:
    return lambda c: c["services"][name].update(changes)


def env(name: str, var: str, value: str | None) -> Mutation:
    def mutate(c: Compose) -> None:
        environment = c["services"][name]["environment"]
        if value is None:
            environment.pop(var)
        else:
            environment[var] = value

    return mutate


def worker_env(c: Compose) -> list[str]:
    return worker_env_problems(c, init_sql())


def temporal_db(c: Compose) -> list[str]:
    return temporal_db_problems(c, init_sql())


def images(c: Compose) -> list[str]:
    return image_problems(c, dockerfile="")


SA = " ".join(f"{k}={v}" for k, v in SEARCH_ATTRIBUTES.items())
DB = "postgresql://returns_worker:returns_worker@postgresql:5432/returns"
ADMIN_DB = "postgresql://returns:returns@postgresql:5432/returns"


def case(name: str, mutate: Mutation, check: Callable[[Compose], list[str]], expected: str) -> Any:
    return pytest.param(mutate, check, expected, id=name)


COMPOSE_MUTATIONS = [
    case("unknown service key", svc(WORKER, restart_policy="always"), schema_problems, "restart_policy"),
    case(
        "healthcheck interval as a number",
        lambda c: c["services"]["temporal"]["healthcheck"].update(interval=5),
        schema_problems,
        "healthcheck/interval",
    ),
    case(
        "depends_on condition misspelt",
        lambda c: c["services"][WORKER]["depends_on"]["temporal"].update(condition="healthy"),
        schema_problems,
        "services/worker/depends_on",
    ),
    case("env var not in ENV_VARS", env(WORKER, "RETURNS_COLOUR", "blue"), worker_env, "RETURNS_COLOUR"),
    case("no DATABASE_URL", env(WORKER, "DATABASE_URL", None), worker_env, "DATABASE_URL is not set"),
    case("no TEMPORAL_ADDRESS", env(WORKER, "TEMPORAL_ADDRESS", None), worker_env, "TEMPORAL_ADDRESS is not"),
    case("Temporal port", env(WORKER, "TEMPORAL_ADDRESS", "temporal:7234"), worker_env, "port 7234"),
    case("Temporal host", env(WORKER, "TEMPORAL_ADDRESS", "temporal-x:7233"), worker_env, "not a service"),
    case("database port", env(WORKER, "DATABASE_URL", DB.replace("5432", "5433")), worker_env, "port 5433"),
    case(
        "database password",
        env(WORKER, "DATABASE_URL", DB.replace(":returns_worker@", ":x@")),
        worker_env,
        "password",
    ),
    case(
        "database of Temporal",
        env(WORKER, "DATABASE_ADMIN_URL", ADMIN_DB.removesuffix("/returns") + "/temporal"),
        worker_env,
        "no database 'temporal' owned by 'returns'",
    ),
    case(
        "service on another database",
        env(WORKER, "DATABASE_URL", DB.removesuffix("/returns") + "/temporal"),
        worker_env,
        "not the database DATABASE_ADMIN_URL migrates",
    ),
    case("service as the owner", env(WORKER, "DATABASE_URL", ADMIN_DB), worker_env, "append-only"),
    case("policy file", env(WORKER, "RETURNS_POLICY", "policies/strict.json"), worker_env, "RETURNS_POLICY"),
    case("namespace", env(WORKER, "TEMPORAL_NAMESPACE", "default"), worker_env, "namespaces differ"),
    case("Temporal's password", env("temporal", "POSTGRES_PWD", "x"), temporal_db, "temporal: no role"),
    case(
        "schema job database", env("temporal-schema", "VISIBILITY_DB", "vis"), temporal_db, "other databases"
    ),
    case(
        "search attribute missing",
        env(NAMESPACE_JOB, "SEARCH_ATTRIBUTES", SA.replace("NeedsAttention=Bool", "")),
        search_attribute_problems,
        "NeedsAttention",
    ),
    case(
        "search attribute of another type",
        env(NAMESPACE_JOB, "SEARCH_ATTRIBUTES", SA.replace("ReturnTotal=Double", "ReturnTotal=Int")),
        search_attribute_problems,
        "'ReturnTotal': 'Int'",
    ),
    case(
        "depends on a missing service",
        lambda c: c["services"][WORKER]["depends_on"].update(redis={"condition": "service_healthy"}),
        dependency_problems,
        "redis",
    ),
    case(
        "waits for a job to be healthy",
        lambda c: c["services"][WORKER]["depends_on"]["temporal-namespace"].update(
            condition="service_healthy"
        ),
        dependency_problems,
        "no healthcheck",
    ),
    case(
        "waits for a server to complete",
        lambda c: c["services"][WORKER]["depends_on"]["temporal"].update(
            condition="service_completed_successfully"
        ),
        dependency_problems,
        "restarts",
    ),
    case(
        "waits for nothing",
        lambda c: c["services"][WORKER]["depends_on"]["postgresql"].update(condition="service_started"),
        dependency_problems,
        "without waiting",
    ),
    case(
        "worker without healthcheck",
        lambda c: c["services"][WORKER].pop("healthcheck"),
        healthcheck_problems,
        "worker",
    ),
    case(
        "healthcheck disabled",
        lambda c: c["services"]["temporal-ui"]["healthcheck"].update(disable=True),
        healthcheck_problems,
        "temporal-ui",
    ),
    case(
        "server without restart policy or healthcheck",
        lambda c: [c["services"]["temporal"].pop(k) for k in ("restart", "healthcheck")],
        healthcheck_problems,
        "temporal runs for good",
    ),
    case(
        "mounted script missing",
        svc(NAMESPACE_JOB, volumes=["./deploy/temporal/gone.sh:/deploy/setup-namespace.sh:ro"]),
        mount_problems,
        "does not exist",
    ),
    case(
        "job runs a script it does not mount",
        svc("temporal-schema", entrypoint=["/bin/sh", "/deploy/other.sh"]),
        mount_problems,
        "temporal-schema",
    ),
    case(
        "dynamic config not mounted",
        env("temporal", "DYNAMIC_CONFIG_FILE_PATH", "/etc/temporal/config/dynamicconfig/docker.yaml"),
        mount_problems,
        "DYNAMIC_CONFIG_FILE_PATH",
    ),
    case("image latest", svc("temporal-ui", image="temporalio/ui:latest"), images, "temporalio/ui:latest"),
    case("image without tag", svc("postgresql", image="postgres"), images, "'postgres'"),
    case("image with a word tag", svc("temporal", image="temporalio/server:stable"), images, "server:stable"),
]


@pytest.mark.parametrize(("mutate", "check", "expected"), COMPOSE_MUTATIONS)
def test_each_check_catches_a_broken_compose_file(
    compose: Compose, mutate: Mutation, check: Callable[[Compose], list[str]], expected: str
) -> None:
    assert check(compose) == []
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = check(broken)
    assert any(expected in p for p in problems), problems


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new)

    return edit


def append(line: str) -> Callable[[str], str]:
    return lambda text: text + line + "\n"


def same(text: str) -> str:
    return text


BASE = "FROM python:3.11.14-slim-bookworm"
DOCKERFILE_MUTATIONS = [
    pytest.param(replace(BASE, "FROM python:latest"), same, "not built FROM", id="base image"),
    pytest.param(
        replace("RUN pip install -r requirements.txt", "RUN true"), same, "pip install", id="no deps"
    ),
    pytest.param(replace("COPY . .", "COPY worker.py ."), same, "COPY", id="code not copied"),
    pytest.param(replace("USER returns", "USER root"), same, "root", id="runs as root"),
    pytest.param(replace("USER returns", ""), same, "root", id="no USER"),
    pytest.param(replace('"worker.py"]', '"starter.py"]'), same, "worker.py", id="runs the starter"),
    pytest.param(same, append("store"), "store/", id="store ignored"),
    pytest.param(same, append("policies/*.json"), "policies/default.json", id="policies ignored"),
    pytest.param(same, append("deploy"), "deploy/healthcheck.py", id="health check ignored"),
]


@pytest.mark.parametrize(("edit_dockerfile", "edit_ignore", "expected"), DOCKERFILE_MUTATIONS)
def test_dockerfile_check_catches_a_broken_image(
    compose: Compose,
    dockerfile: str,
    dockerignore: str,
    edit_dockerfile: Callable[[str], str],
    edit_ignore: Callable[[str], str],
    expected: str,
) -> None:
    problems = dockerfile_problems(compose, edit_dockerfile(dockerfile), edit_ignore(dockerignore))
    assert any(expected in p for p in problems), problems


def test_image_check_reads_the_dockerfile(compose: Compose, dockerfile: str) -> None:
    assert image_problems(compose, dockerfile.replace(BASE, "FROM python:3.11")) == []  # a minor version pins
    problems = image_problems(compose, dockerfile.replace(BASE, "FROM python:slim"))
    assert problems == ["Dockerfile FROM python:slim: image 'python:slim' is not pinned to a version"]


# --- N workers: docker-compose.workers.yml ------------------------------------------------------
WORKERS_FILE = ROOT / "docker-compose.workers.yml"
INTERPOLATED_NUMBER = re.compile(r"^\$\{\w+:-(\d+)\}$")


def load_workers_override() -> Compose:
    data = yaml.safe_load(WORKERS_FILE.read_text())
    assert isinstance(data, dict)
    return data


def merged(base: Compose, override: Compose) -> Compose:
    """`docker compose -f base -f override`, as far as these files use it: mappings merge key by
    key (environment included), sequences such as ports and expose add up, scalars are replaced."""

    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            return {
                k: merge(a[k], b[k]) if k in a and k in b else copy.deepcopy(b.get(k, a.get(k)))
                for k in {**a, **b}
            }
        if isinstance(a, list) and isinstance(b, list):
            return a + [x for x in b if x not in a]
        return copy.deepcopy(b)

    result: Compose = merge(base, override)
    return result


def number_or_default(value: object) -> int | None:
    """An int, a digit string, or `${VAR:-N}`: the number (its default); else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    m = INTERPOLATED_NUMBER.match(text)
    return int(m.group(1)) if m else None


def scaling_problems(compose: Compose, name: str = WORKER) -> list[str]:
    """What keeps `--scale worker=N` (or deploy.replicas) from starting N containers: a fixed
    container_name or hostname, or a port published on the host (the second container's bind
    clashes); and replicas that are no number."""
    service = compose["services"][name]
    problems = [
        f"{name}: {key} is fixed, so a second container clashes"
        for key in ("container_name", "hostname")
        if key in service
    ]
    problems += [
        f"{name}: publishes {p} on the host, so a second container clashes" for p in service.get("ports", [])
    ]
    replicas = (service.get("deploy") or {}).get("replicas")
    if replicas is not None and (number_or_default(replicas) or 0) < 1:
        problems.append(f"{name}: deploy.replicas {replicas!r} is not a number of containers")
    return problems


def override_problems(base: Compose, override: Compose) -> list[str]:
    """The override only adjusts services of the base file (a name it does not have would be a
    new, half-defined service), sets only worker.ENV_VARS names, and tuning values are numbers."""
    problems = [
        f"override: {name} is no service of docker-compose.yml"
        for name in override["services"]
        if name not in base["services"]
    ]
    for name, service in override["services"].items():
        for var, value in env_of(service).items():
            if var not in worker.ENV_VARS:
                problems.append(f"override: {name}: {var} is not in worker.ENV_VARS")
            elif var.startswith("RETURNS_MAX_") and (number_or_default(value) or 0) < 1:
                problems.append(f"override: {name}: {var}={value!r} is not a number above 0")
    return problems


def test_the_worker_scales_and_the_override_runs_n_of_them(compose: Compose) -> None:
    override = load_workers_override()
    both = merged(compose, override)
    assert scaling_problems(compose) == []  # `--scale worker=N` on the base file alone
    assert override_problems(compose, override) == []
    assert schema_problems(override) == [] and schema_problems(both) == []
    assert scaling_problems(both) == [] and worker_env_problems(both, init_sql()) == []
    assert dependency_problems(both) == [] and healthcheck_problems(both) == []
    assert number_or_default(both["services"][WORKER]["deploy"]["replicas"]) == 4
    assert env_of(both["services"][WORKER])["RETURNS_API_PORT"] == "off"  # the api service serves it
    assert "deploy" not in both["services"]["api"] and scaling_problems(both, "api") != []  # one API
    tuning = worker.Tuning.from_env(
        {
            k: str(number_or_default(v))
            for k, v in env_of(both["services"][WORKER]).items()
            if k.startswith("RETURNS_MAX_")
        }
    )
    assert tuning == worker.Tuning(50, 50, 1000)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            svc(WORKER, container_name="returns-worker"), "container_name is fixed", id="container_name"
        ),
        pytest.param(svc(WORKER, hostname="worker-1"), "hostname is fixed", id="hostname"),
        pytest.param(
            svc(WORKER, ports=["127.0.0.1:9464:9464"]), "publishes 127.0.0.1:9464:9464", id="host port"
        ),
        pytest.param(
            svc(WORKER, deploy={"replicas": "${RETURNS_WORKERS:-many}"}), "deploy.replicas", id="replicas"
        ),
    ],
)
def test_scaling_check_catches_what_clashes(compose: Compose, mutate: Mutation, expected: str) -> None:
    broken = merged(compose, load_workers_override())
    mutate(broken)
    assert any(expected in p for p in scaling_problems(broken)), scaling_problems(broken)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda o: o["services"].update(workers=o["services"].pop(WORKER)),
            "workers is no service",
            id="typo",
        ),
        pytest.param(
            env(WORKER, "RETURNS_WORKER_COUNT", "4"),
            "RETURNS_WORKER_COUNT is not in worker.ENV_VARS",
            id="env",
        ),
        pytest.param(
            env(WORKER, "RETURNS_MAX_CONCURRENT_ACTIVITIES", "lots"), "is not a number", id="tuning"
        ),
    ],
)
def test_override_check_catches_a_broken_override(compose: Compose, mutate: Mutation, expected: str) -> None:
    override = load_workers_override()
    mutate(override)
    assert any(expected in p for p in override_problems(compose, override)), override_problems(
        compose, override
    )


def test_worker_tuning_env_is_checked_at_start() -> None:
    assert worker.Tuning.from_env({}) == worker.Tuning()
    assert worker.Tuning.from_env({"RETURNS_MAX_CACHED_WORKFLOWS": "200"}).max_cached_workflows == 200
    with pytest.raises(worker.ConfigError, match="RETURNS_MAX_CONCURRENT_ACTIVITIES"):
        worker.Tuning.from_env({"RETURNS_MAX_CONCURRENT_ACTIVITIES": "0"})


def test_docker_compose_config_merges_the_override_as_the_test_does(compose: Compose) -> None:
    """Where the compose plugin exists (not on the development machine), its own merge agrees."""
    try:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"docker not runnable: {e}")
    if plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "-f", str(WORKERS_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    worker_service = json.loads(done.stdout)["services"][WORKER]
    assert worker_service["deploy"]["replicas"] == 4 and not worker_service.get("ports")
    assert worker_service["environment"]["RETURNS_MAX_CONCURRENT_ACTIVITIES"] == "50"
