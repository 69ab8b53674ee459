"""Baseline for the board page: a minimal Litestar + asyncpg app, no event store.

GET /board runs one query for the 50 rows of `baseline_board` and renders them with Jinja
(autoescape on, dict access) into a page shaped like ours: a head, a navigation bar, one card
per row. Served by tests.bench.http_serve (`tests.bench.http_page:app`, a factory); reads
DATABASE_URL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import jinja2
from litestar import Litestar, MediaType, Response, get

TABLE = "baseline_board"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, title text NOT NULL,"
    " status text NOT NULL, cycle_number integer, phase text, value_name text,"
    " updated_at timestamptz NOT NULL)"
)
QUERY = (f"SELECT id, title, status, cycle_number, phase, value_name, updated_at FROM {TABLE}"
         " ORDER BY updated_at DESC, title")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cycle board · CQI Tracker</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/htmx/htmx.min.js" defer></script>
</head>
<body>
  <header class="top">
    <a class="brand" href="/board">CQI Tracker</a>
    <nav aria-label="Main">
      <a href="/dashboard">Dashboard</a> <a href="/board" aria-current="page">Board</a>
      <a href="/initiatives">Initiatives</a> <a href="/mission">Values</a>
      <a href="/revisits">Revisits</a> <a href="/measures">Measures</a>
    </nav>
  </header>
  <main id="main">
    <h1>Cycle board</h1>
    <p class="count">{{ rows|length }} initiatives</p>
    <div class="board" role="list">
    {% for row in rows %}
      <article class="card" role="listitem">
        <h3><a href="/initiatives/{{ row['id'] }}">{{ row['title'] }}</a></h3>
        <p class="status">{{ row['status'] }}</p>
        {% if row['cycle_number'] %}
        <p>Cycle {{ row['cycle_number'] }} · {{ row['phase'] }}</p>{% endif %}
        {% if row['value_name'] %}<p class="value">{{ row['value_name'] }}</p>{% endif %}
        <p class="muted"><time datetime="{{ row['updated_at'].isoformat() }}">
          {{- row['updated_at'].strftime('%d %b %Y, %H:%M') }}</time></p>
      </article>
    {% endfor %}
    </div>
  </main>
</body>
</html>
"""


def app() -> Litestar:
    dsn = os.environ["DATABASE_URL"]
    template = jinja2.Environment(autoescape=True).from_string(PAGE)

    @asynccontextmanager
    async def lifespan(application: Litestar) -> AsyncIterator[None]:
        application.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        try:
            yield
        finally:
            await application.state.pool.close()

    @get("/board", media_type=MediaType.HTML)
    async def board() -> Response[str]:
        async with application.state.pool.acquire() as conn:
            rows = await conn.fetch(QUERY)
        return Response(template.render(rows=rows), media_type=MediaType.HTML)

    application = Litestar(route_handlers=[board], lifespan=[lifespan])
    return application
