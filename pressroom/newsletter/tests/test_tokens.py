"""The links signed for every recipient are Django's signed values to the byte, and read back."""

from __future__ import annotations

import pytest
from django.core import signing

from pressroom.newsletter import tokens


@pytest.mark.parametrize("subscriber_id", [1, 42, 987654321])
def test_quickly_signed_links_are_the_tokens_djangos_signer_makes_and_reads(subscriber_id):
    preferences = tokens.preferences_token(subscriber_id)
    unsubscribe = tokens.unsubscribe_token(subscriber_id, 7)
    assert preferences == signing.Signer(salt=tokens.PREFERENCES_SALT).sign(str(subscriber_id))
    assert unsubscribe == signing.Signer(salt=tokens.UNSUBSCRIBE_SALT).sign(f"{subscriber_id}-7")
    assert tokens.read_preferences_token(preferences) == subscriber_id
    assert tokens.read_unsubscribe_token(unsubscribe) == (subscriber_id, 7)
    # One salt's token is no token of the other purpose.
    with pytest.raises(tokens.InvalidLink):
        tokens.read_unsubscribe_token(preferences)
