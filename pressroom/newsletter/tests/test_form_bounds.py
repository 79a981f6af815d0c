"""Numbers posted to the digest forms are bounded: an impossible topic id re-renders the form."""

from __future__ import annotations

import pytest

from pressroom.newsletter import tokens
from pressroom.newsletter.models import Subscriber
from pressroom.publishing.models import Topic

HUGE = "99999999999999999999999999"
IMPOSSIBLE_IDS = [HUGE, str(2**63), "-1", "0", "1e3", "١٢", "abc"]


@pytest.mark.django_db
@pytest.mark.parametrize("topic_id", IMPOSSIBLE_IDS)
def test_signup_with_an_impossible_topic_id_re_renders_the_form(client, topic_id):
    response = client.post("/digest/", {"email": "rosa@example.org", "topics": topic_id})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("topic_id", IMPOSSIBLE_IDS)
def test_preferences_with_an_impossible_topic_id_re_render_the_form(
    client, make_subscriber, topic_id
):
    chile = Topic.objects.create(name="Chile", slug="chile")
    reader = make_subscriber("rosa@example.org", topics=[chile])
    reader.all_topics = False
    reader.save()
    url = f"/digest/preferences/{tokens.preferences_token(reader.pk)}/"
    response = client.post(url, {"selection": "chosen", "topics": [str(chile.pk), topic_id]})
    assert response.status_code in {200, 400}
    assert "Select a valid choice" in response.content.decode()
    reader.refresh_from_db()
    assert list(reader.topics.all()) == [chile]
