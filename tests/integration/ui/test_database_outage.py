"""The dashboard while the database is away: a page in German that says so, 503 with
Retry-After, for the session check as for the page's data; the pages come back with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozgbridge.api.problems import DATABASE_RETRY_AFTER
from tests.integration.tcp_relay import TcpRelay, relayed
from tests.integration.ui.ops_support import ops_ui

pytestmark = pytest.mark.postgres


async def test_pages_say_the_database_is_away(
    postgres_url: str, pg_relay: TcpRelay, tmp_path: Path
) -> None:
    async with ops_ui(relayed(postgres_url, pg_relay), tmp_path) as ui:
        await ui.sign_in("operator")
        assert "Zustellungen" in await ui.page("/ui/deliveries")

        await pg_relay.cut()
        away = await ui.client.get("/ui/deliveries")
        text = await away.text()

        assert away.status == 503
        assert away.headers["Content-Type"].startswith("text/html")
        assert away.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
        assert "Datenbank nicht erreichbar" in text

        await pg_relay.start()
        for _ in range(20):  # a pooled connection broken by the cut may fail once more
            back = await ui.client.get("/ui/deliveries")
            if back.status == 200:
                break
        assert back.status == 200
