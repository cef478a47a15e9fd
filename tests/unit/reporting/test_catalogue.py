"""The service catalogue shipped in the package."""

from __future__ import annotations

from ozgbridge.reporting.catalogue import Catalogue, ServiceInfo, default_catalogue


def test_shipped_catalogue_names_services_and_ozg_leistungen() -> None:
    catalogue = default_catalogue()

    assert len(catalogue) == 4813
    assert catalogue.service("99050012104000") == ServiceInfo(
        "99050012104000", "Gewerbe Anmeldung", "10294", "Unternehmensanmeldung und -genehmigung"
    )
    assert catalogue.service("99036008007000").ozg_id == "10439"


def test_unknown_keys_are_named_by_their_key() -> None:
    info = default_catalogue().service("99999999999999")

    assert (info.name, info.ozg_id, info.ozg_leistung, info.known) == (
        "99999999999999",
        None,
        None,
        False,
    )


def test_blank_ozg_columns_read_as_none() -> None:
    catalogue = Catalogue.from_csv(
        "leika_key,leika_typ,leika_name,ozg_id,ozg_leistung\n99000000000000,1,Etwas,,\n"
    )

    assert catalogue.service("99000000000000") == ServiceInfo("99000000000000", "Etwas", None, None)
