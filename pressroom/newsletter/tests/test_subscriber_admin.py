"""The Audience role finds a reader in the admin by any part of their address, on SQLite and on
PostgreSQL (where a trigram index serves the search: migration 0008)."""

from __future__ import annotations

import importlib
import re

import pytest
from django.db import connection

from pressroom.newsletter.models import Subscriber

pytestmark = pytest.mark.django_db

CHANGELIST_URL = "/admin/newsletter/subscriber/"


def listed_emails(client, query: str) -> set[str]:
    response = client.get(CHANGELIST_URL, {"q": query})
    assert response.status_code == 200
    return set(
        re.findall(
            r'<th class="field-email"><a href="[^"]+">([^<]+)</a>', response.content.decode()
        )
    )


def test_a_subscriber_is_found_by_any_part_of_the_address_in_any_case(audience_client):
    Subscriber.objects.bulk_create(
        Subscriber(email=email, status="confirmed")
        for email in ["ana.quispe@andes.example", "luis@pampa.example", "ANA@altiplano.example"]
    )
    assert listed_emails(audience_client, "ana") == {
        "ana.quispe@andes.example",
        "ANA@altiplano.example",
    }
    assert listed_emails(audience_client, "PAMPA.EX") == {"luis@pampa.example"}
    assert listed_emails(audience_client, "nobody") == set()
    # What a search means to SQL: a LIKE's wildcards typed by an editor are plain characters.
    assert listed_emails(audience_client, "%") == set()


def test_on_postgresql_a_trigram_index_serves_the_search():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite scans the email index (fast enough at 100,000: bench/search.py)")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef, indisvalid FROM pg_indexes"
            " JOIN pg_index ON indexrelid = to_regclass(indexname)"
            " WHERE indexname = 'subscriber_email_trigram'"
        )
        definition, valid = cursor.fetchone()
    assert "gin_trgm_ops" in definition
    assert "upper((email)::text)" in definition
    assert valid, "built whole (an interrupted concurrent build leaves an invalid index)"


@pytest.mark.django_db(transaction=True)  # a concurrent build runs outside any transaction
def test_migrating_again_rebuilds_an_index_an_interrupted_build_left_invalid():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no such index")
    migration = importlib.import_module(
        "pressroom.newsletter.migrations.0008_subscriber_email_search"
    )
    with connection.cursor() as cursor:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass(%s)",
            [migration.INDEX],
        )
    with connection.schema_editor(atomic=False) as editor:
        migration.create_index(None, editor)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [migration.INDEX]
        )
        assert cursor.fetchone() == (True,)
