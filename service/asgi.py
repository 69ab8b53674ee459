"""The app as each server worker builds it: `service.asgi:app` is a factory.

`cqi serve` starts the database (when embedded) once, in the parent process, and puts its URL and
the secret key in the environment before the workers start; each worker then reads the same
settings and builds its own app (its own pools and projection runner; the runners elect one
writer between them through a PostgreSQL advisory lock).
"""

from __future__ import annotations

from litestar import Litestar

from service.app import create_app
from service.settings import Settings


def app() -> Litestar:
    return create_app(Settings.from_env())
