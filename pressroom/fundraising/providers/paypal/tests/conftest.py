"""The fundraising test parts (campaigns) for this processor's own tests."""

from pressroom.fundraising.tests.conftest import make_campaign  # noqa: F401
