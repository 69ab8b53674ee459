"""When a view cannot be updated, the health check says so; when the fault is gone, the runner
catches up by itself and nothing was skipped."""

import asyncio
import re

from projections.cycle_board import initiatives


async def eventually(condition, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_a_failing_view_is_reported_by_health_and_caught_up_after(
    client, services, accounts, monkeypatch
):
    member = await accounts.token("member")
    value = await services.command(services.cqi.add_value, actor="test", name="Child safety",
                                   description="")
    board = next(p for p in services.runner.projections if p.name.startswith("cycle_board"))

    def broken(curs, domain_event):
        raise RuntimeError("the disk under this view is full")

    monkeypatch.setattr(board, "apply", broken)
    receipt = await services.call(
        services.cqi.open_initiative, actor="test", title="Every child seen", problem="p",
        aim="a", value_ids=[value.detail])
    await eventually(lambda: services.runner.error is not None)
    health = await client.get("/api/v1/health")
    assert health.status_code == 503
    assert health.json() == {"status": "degraded",
                             "problem": "the views are not being updated: RuntimeError"}
    listed = await client.get("/api/v1/initiatives", headers=member)
    assert listed.json() == []  # the write is stored; the list lags behind

    monkeypatch.undo()
    assert await services.runner.progress.wait(receipt.notification_id, timeout=10)
    await eventually(lambda: services.runner.error is None)
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
    rows = await services.read(initiatives, None)
    assert [row["title"] for row in rows] == ["Every child seen"]


async def test_views_that_stand_still_behind_the_log_are_reported_by_health(
    client, services, monkeypatch
):
    """A writer that holds the lock but no longer moves the views (a batch hung on a lock, a
    frozen process) raises no error anywhere: the health check still says so once the views
    have stood still behind the log for `stall_seconds`, and is ok again when they move."""
    services.runner.stall_seconds = 0.3
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
    monkeypatch.setattr(services.runner, "process_batch", lambda: 0)  # stuck, and silent
    receipt = await services.call(services.cqi.add_value, actor="test", name="Child safety",
                                  description="")
    just_behind = await client.get("/api/v1/health")
    assert just_behind.json() == {"status": "ok"}  # a command just stored is not a stall
    await asyncio.sleep(0.4)
    stalled = await client.get("/api/v1/health")
    assert stalled.status_code == 503
    found = re.fullmatch(r"the views have not moved for \d+ s: they stand at notification "
                         r"(\d+), the log at (\d+)", stalled.json()["problem"])
    assert found is not None, stalled.json()
    assert int(found[1]) < receipt.notification_id == int(found[2])
    assert stalled.json()["status"] == "degraded"

    monkeypatch.undo()
    assert await services.runner.progress.wait(receipt.notification_id, timeout=10)
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
