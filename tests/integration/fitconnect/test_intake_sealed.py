"""Submissions received over FIT-Connect are sealed at rest like portal submissions.

The intake stores through `Repository.accept`, the one write path, so it needs no code of its
own for this; the test proves it on both engines with the intake running in a real process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from ozgbridge.store.engine import create_engine
from ozgbridge.store.tables import applications
from tests.contract.factories import make_attachment, make_envelope
from tests.integration.dataprotection.support import MARKERS, markers_in, raw_database
from tests.integration.fitconnect.bridge import ENV, running, write_config
from tests.integration.fitconnect.support import FitConnectStandIn
from tests.integration.fitconnect.test_intake import answered


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


async def test_intake_stores_content_sealed(
    database_url: str, standin: FitConnectStandIn, tmp_path: Path
) -> None:
    zd = standin.zd
    config = write_config(tmp_path, zd, intake_destination=standin.destination.id)
    content = json.dumps({"zeugin": MARKERS["form data"]}).encode()
    envelope = make_envelope(
        data=make_envelope().data.model_copy(update={"content": content}),
        attachments=(
            make_attachment(
                filename=f"{MARKERS['file name']}.pdf", content=MARKERS["attachment"].encode() * 9
            ),
        ),
    )
    await standin.connector().deliver(envelope)
    [submission] = zd.submitted()

    async with running(config, database_url, tmp_path / "var") as bridge:
        assert await answered(zd, submission) == "accept-submission"
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                app_id, key_id = (
                    await conn.execute(select(applications.c.id, applications.c.data_key_id))
                ).one()
        finally:
            await engine.dispose()
        await bridge.until(app_id, lambda v: v["status"] == "delivered")
        assert key_id is not None
        assert markers_in(await raw_database(database_url)) == set()

    # the worker opened what the intake sealed
    drop = tmp_path / "var" / "dropbox" / "erkelenz" / app_id
    assert (drop / "data.json").read_bytes() == content
    [delivered] = (drop / "attachments").iterdir()
    assert MARKERS["file name"] in delivered.name
    assert delivered.read_bytes() == MARKERS["attachment"].encode() * 9
