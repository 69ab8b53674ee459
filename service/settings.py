"""Settings: read once from the environment at start-up, each with a safe local default."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable and what is wrong."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    """DATABASE_URL: a PostgreSQL URL. Unset: an embedded PostgreSQL in `data_dir`."""
    data_dir: Path = Path(".cqi")
    """CQI_DATA_DIR: where the embedded database and the generated secret key live."""
    secret_key: str = field(default="", repr=False)
    """CQI_SECRET_KEY: signs CSRF tokens. Unset: generated once and kept in `data_dir`."""
    timezone: str = "UTC"
    """CQI_TIMEZONE: the agency's IANA time zone; "today" (what is overdue) is decided in it."""
    host: str = "127.0.0.1"
    """CQI_HOST: the address `cqi serve` listens on."""
    port: int = 8000
    """CQI_PORT: the port `cqi serve` listens on."""
    workers: int = field(default_factory=lambda: _default_workers())
    """CQI_WORKERS: server processes `cqi serve` starts (default: one per CPU core, at most 4;
    each opens its own database connections)."""
    secure_cookies: bool = True
    """CQI_SECURE_COOKIES: mark cookies Secure (browsers accept them on http://localhost too)."""
    session_hours: float = 12.0
    """CQI_SESSION_HOURS: a signed-in session ends this long after sign-in."""
    idle_minutes: float = 30.0
    """CQI_IDLE_MINUTES: a session unused this long ends."""
    password_hash_cost: str = "standard"
    """CQI_PASSWORD_HASH_COST: "standard" (argon2id, 64 MiB) or "fast" (tests only)."""
    pool_size: int = 10
    """CQI_DB_POOL_SIZE: connections each pool (writes, reads) keeps open."""
    signing_key_file: Path | None = None
    """CQI_SIGNING_KEY_FILE: the Ed25519 key that signs audit anchors (`cqi anchor`); keep it
    outside the database and its backups."""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
    """CQI_ALLOWED_HOSTS: comma-separated host names this app answers to (any port);
    "*.example.org" allows its subdomains, "*" any host. Others get 400."""
    trust_proxy_headers: bool = False
    """CQI_TRUST_PROXY_HEADERS: a reverse proxy in front sets X-Forwarded-Proto and
    X-Forwarded-For (true only when every request comes through that proxy)."""
    views_process: bool = True
    """CQI_VIEWS_PROCESS: with two or more workers, `cqi serve` also starts a process that
    writes the views, so that no worker spends its time on them (false: a worker does)."""
    views_name: str | None = None
    """CQI_VIEWS_NAME: set by `cqi serve` for its workers and its views process (not by hand):
    the name the views process's lock connection carries, by which a worker's health check
    knows that its own replica writes the views."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("CQI_DATA_DIR") or ".cqi")
        database_url = env.get("DATABASE_URL") or None
        if database_url is not None:
            parse_database_url(database_url)  # fail early with a clear message
        timezone = env.get("CQI_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"CQI_TIMEZONE={timezone!r} is not an IANA time zone (e.g. America/Chicago)"
            ) from None
        cost = env.get("CQI_PASSWORD_HASH_COST") or "standard"
        if cost not in ("standard", "fast"):
            raise SettingsError('CQI_PASSWORD_HASH_COST must be "standard" or "fast"')
        return cls(
            database_url=database_url,
            data_dir=data_dir,
            secret_key=env.get("CQI_SECRET_KEY") or "",
            timezone=timezone,
            host=env.get("CQI_HOST") or "127.0.0.1",
            port=_number(env, "CQI_PORT", 8000, int, 1, 65535),
            workers=_number(env, "CQI_WORKERS", _default_workers(), int, 1, 64),
            secure_cookies=_flag(env, "CQI_SECURE_COOKIES", True),
            session_hours=_number(env, "CQI_SESSION_HOURS", 12.0, float, 0.1, 24 * 30),
            idle_minutes=_number(env, "CQI_IDLE_MINUTES", 30.0, float, 1, 24 * 60),
            password_hash_cost=cost,
            pool_size=_number(env, "CQI_DB_POOL_SIZE", 10, int, 2, 200),
            signing_key_file=Path(env["CQI_SIGNING_KEY_FILE"])
            if env.get("CQI_SIGNING_KEY_FILE") else None,
            allowed_hosts=_hosts(env.get("CQI_ALLOWED_HOSTS")),
            trust_proxy_headers=_flag(env, "CQI_TRUST_PROXY_HEADERS", False),
            views_process=_flag(env, "CQI_VIEWS_PROCESS", True),
            views_name=env.get("CQI_VIEWS_NAME") or None,
        )

    def with_secret_key(self) -> Settings:
        """Return settings with a secret key, generating and keeping one in data_dir if unset."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError), os.fdopen(
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w"
            ) as key_file:  # never readable by others, not even for a moment
                key_file.write(secrets.token_urlsafe(48))
        return _replace(self, secret_key=path.read_text().strip())


def _default_workers() -> int:
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return min(4, max(1, len(usable) if usable else (os.cpu_count() or 1)))


def _replace(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r}: use true or false")


def _hosts(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return Settings.allowed_hosts
    hosts = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for host in hosts:
        if host != "*" and not re.fullmatch(r"(\*\.)?[a-z0-9.\-:]+", host):
            raise SettingsError(
                f"CQI_ALLOWED_HOSTS: {host!r} is not a host name (e.g. cqi.example.org, "
                "*.example.org; no scheme, no port)")
    return hosts


def _number(env, name, default, kind, low, high):  # type: ignore[no-untyped-def]
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} must be between {low} and {high}")
    return value


@dataclass(frozen=True)
class DatabaseParts:
    host: str
    port: int
    user: str
    password: str
    dbname: str


def parse_database_url(url: str) -> DatabaseParts:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SettingsError("DATABASE_URL must start with postgresql://")
    if not parts.hostname:
        raise SettingsError("DATABASE_URL names no host")
    if parts.query:
        raise SettingsError(
            "DATABASE_URL takes no ?parameters (the write side would not see them); set TLS and "
            "other connection options in the environment instead (PGSSLMODE, PGSSLROOTCERT...), "
            "which both database drivers read")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise SettingsError("DATABASE_URL names no database (postgresql://user@host:5432/NAME)")
    try:
        port = parts.port or 5432
    except ValueError:
        raise SettingsError("DATABASE_URL has a port that is not a number") from None
    return DatabaseParts(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=dbname,
    )
