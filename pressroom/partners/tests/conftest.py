from __future__ import annotations

import pytest

from pressroom.partners.tests.feedserver import feed_server


@pytest.fixture
def feeds(settings):
    """A real feed server on loopback, which the outbound helper may reach in tests."""
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_RETRIES = 0
    with feed_server() as server:
        yield server
