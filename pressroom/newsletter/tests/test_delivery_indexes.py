"""The upgrade to partial delivery indexes (newsletter 0009), on a table with rows in every state,
both ways, on SQLite and PostgreSQL: nothing is lost, and each index holds the rows it is for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("newsletter", "0008_subscriber_email_search")
AFTER = ("newsletter", "0009_delivery_partial_indexes")


def _indexes() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "newsletter_delivery")
    return {
        name: details["columns"]
        for name, details in constraints.items()
        if (details["index"] or details["unique"]) and not details["primary_key"]
    }


@pytest.fixture
def migrator(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    executor.loader.build_graph()
    yield executor
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_upgrade_and_downgrade_keep_every_delivery(migrator):
    apps = migrator.loader.project_state(BEFORE).apps
    Digest = apps.get_model("newsletter", "Digest")
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Delivery = apps.get_model("newsletter", "Delivery")
    day = datetime(2026, 12, 1, 6, tzinfo=UTC)
    digest = Digest.objects.create(
        date=day.date(), subject="Daily Digest", covers_from=day, covers_until=day, status="sending"
    )
    states = ["pending", "sending", "sent", "bounced"]
    for number, state in enumerate(states):
        subscriber = Subscriber.objects.create(email=f"reader{number}@example.org")
        Delivery.objects.create(
            digest=digest,
            subscriber=subscriber,
            batch=number // 2,
            state=state,
            claim="c1" if state == "sending" else "",
            message_id="<esp-1>" if state == "bounced" else "",
        )
    before = _indexes()
    assert "delivery_batch_state" in before
    assert ["digest_id"] in before.values()  # the foreign key's own index

    migrator.migrate([AFTER])
    after = _indexes()
    assert {"delivery_pending", "delivery_claims", "delivery_provider_message_id"} <= set(after)
    assert not {"delivery_batch_state", "delivery_message_id"} & set(after)
    assert ["digest_id"] not in after.values()
    assert after["delivery_one_per_subscriber"][0] == "digest_id"  # serves the digest's rows

    # The queries the send makes, on the upgraded table (the models of this version).
    from pressroom.newsletter.models import Delivery as Current

    assert Current.objects.filter(digest_id=digest.pk, batch=0, state="pending").count() == 1
    assert Current.objects.filter(claim="c1", state="sending").count() == 1
    bounced = Current.objects.filter(message_id="<esp-1>").exclude(message_id="").get()
    assert bounced.state == "bounced"
    assert sorted(Current.objects.values_list("state", flat=True)) == sorted(states)

    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    assert _indexes() == before
    assert Delivery.objects.count() == len(states)
