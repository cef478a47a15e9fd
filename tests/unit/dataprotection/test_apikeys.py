"""API key lifetimes: `expires`, rotated tokens, expiry warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ozgbridge.apikeys import expiry_findings, rotated
from ozgbridge.errors import ConfigError
from ozgbridge.tenants import ApiKey, load_deployment, token_sha256

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD, NEW = token_sha256("old-token"), token_sha256("new-token")


def key(**fields: object) -> ApiKey:
    return ApiKey.model_validate({"id": "portal-hs", "role": "portal", "sha256": OLD, **fields})


def test_expires_accepts_dates_and_zoned_times_and_refuses_naive_ones() -> None:
    assert key(expires=datetime(2026, 12, 31).date()).expires == datetime(2026, 12, 31, tzinfo=UTC)
    assert key(expires="2026-12-31T10:00:00+01:00").expires == datetime(
        2026, 12, 31, 9, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="give a time zone"):
        key(expires=datetime(2026, 12, 31, 10, 0))
    assert key().expires is None


def test_token_expiry_of_current_and_replaced_tokens() -> None:
    until = NOW + timedelta(days=7)
    rotated_key = key(sha256=NEW, previous=[{"sha256": OLD, "expires": until}])
    assert rotated_key.hashes == (NEW, OLD)
    assert rotated_key.token_expires(NEW) is None
    assert rotated_key.token_expires(OLD) == until
    # a replaced token never outlives its key
    ending = key(sha256=NEW, expires=NOW, previous=[{"sha256": OLD, "expires": until}])
    assert ending.token_expires(OLD) == NOW


def test_rotation_keeps_the_key_and_its_old_token_for_the_overlap() -> None:
    entry = rotated(key(demo=True), NEW, NOW, timedelta(days=7))

    assert entry == {
        "id": "portal-hs",
        "role": "portal",
        "sha256": NEW,
        "previous": [{"sha256": OLD, "expires": "2026-12-08T12:00:00Z"}],
    }
    again = rotated(ApiKey.model_validate(entry), token_sha256("third"), NOW, timedelta(days=1))
    assert [p["sha256"] for p in again["previous"]] == [NEW, OLD]
    # expired replaced tokens are dropped on the next rotation
    later = rotated(
        ApiKey.model_validate(entry),
        token_sha256("third"),
        NOW + timedelta(days=8),
        timedelta(days=1),
    )
    assert [p["sha256"] for p in later["previous"]] == [NEW]


def test_rotation_never_extends_past_the_keys_own_expiry() -> None:
    entry = rotated(key(expires=NOW + timedelta(days=2)), NEW, NOW, timedelta(days=7))
    assert entry["previous"] == [{"sha256": OLD, "expires": "2026-12-03T12:00:00Z"}]
    assert entry["expires"] == "2026-12-03T12:00:00Z"


def test_expiry_warnings_two_weeks_ahead() -> None:
    keys = [
        key(id="soon", expires=NOW + timedelta(days=13)),
        key(id="later", sha256=NEW, expires=NOW + timedelta(days=15)),
        key(id="gone", sha256=token_sha256("x"), expires=NOW - timedelta(days=1)),
        key(
            id="rotated",
            sha256=token_sha256("y"),
            previous=[{"sha256": token_sha256("z"), "expires": NOW - timedelta(hours=1)}],
        ),
    ]

    warnings = expiry_findings(list(enumerate(keys)), Path("keys.yaml"), NOW)
    assert {w.severity for w in warnings} == {"warning"}

    assert [(w.loc, w.message.split(":")[0]) for w in warnings] == [
        (("keys", 0, "expires"), "key 'soon' expires in 13 day(s) (2026-12-14T12"),
        (("keys", 2, "expires"), "key 'gone' expired at 2026-11-30T12"),
        (
            ("keys", 3, "previous", 0, "expires"),
            "the replaced token of key 'rotated' expired at 2026-12-01T11",
        ),
    ]
    assert "ozgbridge keys rotate --id soon" in warnings[0].message


def write(config: Path, keys: list[dict[str, object]]) -> Path:
    (config / "tenants").mkdir(parents=True, exist_ok=True)
    (config / "tenants" / "a.yaml").write_text(
        yaml.safe_dump({"id": "a", "name": "A", "ags": "05370004"})
    )
    (config / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}))
    return config


def test_replaced_tokens_authenticate_and_must_be_unique(tmp_path: Path) -> None:
    until = (NOW + timedelta(days=7)).isoformat()
    deployment = load_deployment(
        write(
            tmp_path / "ok",
            [
                {
                    "id": "p",
                    "role": "portal",
                    "sha256": NEW,
                    "previous": [{"sha256": OLD, "expires": until}],
                }
            ],
        )
    )
    assert deployment.key_by_hash(OLD) is deployment.key_by_hash(NEW) is deployment.keys[0]

    with pytest.raises(ConfigError) as raised:
        load_deployment(
            write(
                tmp_path / "dup",
                [
                    {"id": "p", "role": "portal", "sha256": NEW},
                    {
                        "id": "q",
                        "role": "portal",
                        "sha256": token_sha256("q"),
                        "previous": [{"sha256": NEW, "expires": until}],
                    },
                ],
            )
        )
    assert "keys[1].previous[0].sha256: same hash as keys[0]" in str(raised.value)


def test_a_replaced_token_needs_an_expiry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_deployment(
            write(
                tmp_path,
                [{"id": "p", "role": "portal", "sha256": NEW, "previous": [{"sha256": OLD}]}],
            )
        )
    assert "keys[0].previous[0].expires: required field is missing" in str(raised.value)
