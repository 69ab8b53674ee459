"""compose.yaml and the Dockerfile, checked without a container engine.

The compose file is validated against the Compose Specification schema that check-jsonschema
ships (no network needed), then read to check that the pieces fit together.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the ["KEY=value", ...] form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def postgres_services(compose: dict) -> list[str]:
    return [
        name
        for name, service in compose["services"].items()
        if str(service.get("image", "")).split(":")[0] in ("postgres", "docker.io/library/postgres")
    ]


def check_jsonschema() -> str:
    beside_python = Path(sys.executable).with_name("check-jsonschema")
    found = str(beside_python) if beside_python.exists() else shutil.which("check-jsonschema")
    if found is None:
        pytest.fail("check-jsonschema is not installed (it is a dev dependency)")
    return found


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_db_service_is_a_healthchecked_postgres_with_a_named_volume(compose):
    (name,) = postgres_services(compose)
    db = compose["services"][name]
    major = int(str(db["image"]).split(":")[1].split("-")[0].split(".")[0])
    assert major in (17, 18)
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    env = environment(db)
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]) == ("cqi",) * 3
    volume = db["volumes"][0]
    source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
    assert source in compose["volumes"]


def test_app_serves_on_port_8000_against_the_db_service(compose):
    app = compose["services"]["app"]
    command = app["command"]
    assert command[:2] == ["cqi", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8000"
    assert any(str(port).endswith(":8000") for port in app["ports"])

    env = environment(app)
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme == "postgresql"
    assert database.hostname in postgres_services(compose)
    assert database.path == "/cqi"
    assert env["CQI_SECRET_KEY"].startswith("${CQI_SECRET_KEY:?")

    assert app["depends_on"][database.hostname]["condition"] == "service_healthy"


def test_app_image_is_built_from_the_repository_dockerfile(compose):
    build = compose["services"]["app"]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (ROOT / context).resolve() == ROOT
    assert DOCKERFILE.exists()

    instructions = [
        (*line.split(maxsplit=1), "")[:2]
        for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ("FROM", "python:3.11-slim") in instructions
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    # Editable, so that the installed packages find templates/ beside them in the image.
    assert any(keyword == "RUN" and "pip install -e ." in args for keyword, args in instructions)
    for keyword, args in instructions:
        if keyword == "COPY" and not args.startswith("--"):
            *sources, _destination = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is missing"
