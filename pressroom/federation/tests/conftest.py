from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from django.core.management import call_command

from pressroom.federation import documents
from pressroom.federation.models import SITE_ACTOR, ActorKey
from pressroom.federation.tests.remote import RemoteServer, django_headers

INBOX = "/fediverse/actor/inbox"
SHARED_INBOX = "/fediverse/inbox"


@pytest.fixture(autouse=True)
def _federation_settings(settings):
    # The remote servers of these tests listen on loopback, as in local development.
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_RETRIES = 0
    settings.FEDERATION_BLOCKED_DOMAINS = ["blocked.example"]


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with RemoteServer("alice") as server:
        yield server


def run_worker() -> None:
    """The real task worker, in batch mode: runs what is queued (and due), then returns. The
    test's transaction never commits, so what tasks queue on commit is run in another round."""
    from django.test import TestCase

    for _ in range(10):
        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            call_command("worker", batch=True, verbosity=0)
        if not callbacks:
            return


def our_public_key(name: str = SITE_ACTOR) -> str:
    return ActorKey.for_actor(name).public_key_pem


@pytest.fixture
def post_signed(client, django_capture_on_commit_callbacks) -> Callable:
    """Post an activity of `remote` to one of our inboxes, signed by the remote's library."""

    def post(
        remote: RemoteServer,
        activity: dict,
        path: str = INBOX,
        *,
        dialect: str = "cavage",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/activity+json",
    ):
        body = json.dumps(activity).encode() if body is None else body
        url = f"http://testserver{path}"
        signed = (
            remote.cavage_headers(url, body)
            if dialect == "cavage"
            else remote.rfc9421_headers(url, body)
        )
        signed.update(headers or {})
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic(
                "POST", path, body, content_type=content_type, **django_headers(signed)
            )

    return post


def follow(remote: RemoteServer, target: str | None = None, number: int = 1) -> dict:
    return remote.activity("Follow", target or documents.actor_url(SITE_ACTOR), number)
