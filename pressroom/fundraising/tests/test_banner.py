"""The campaign banner on every public page and the campaign block in the digest email."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.banner import forget_campaign_figures
from pressroom.fundraising.demo import create_demo_campaign
from pressroom.fundraising.models import Campaign
from pressroom.lib.pagecache.generation import current_generation, serving


def give(campaign: Campaign, amount: str, email: str, reference: str) -> None:
    services.record_offline_donation(
        email=email,
        name="",
        amount=Decimal(amount),
        currency=campaign.currency,
        method="bank_transfer",
        reference=reference,
        campaign=campaign,
        send_receipt=False,
    )


def render_for_a_reader(template: Template) -> str:
    """The template rendered as in a public request: under the current content generation,
    with the parts of pages this process keeps."""
    with serving(current_generation()):
        return template.render(Context({}))


def test_reader_sees_heading_message_donate_button_progress_donors_and_days_left(client, campaign):
    give(campaign, "2500", "a@example.org", "t-1")
    give(campaign, "500", "b@example.org", "t-2")
    page = client.get("/").content.decode()
    assert "Urgent End Of Year Fundraising Campaign" in page
    assert "Online donations are back!" in page
    assert '<a class="button" href="/donate/end-of-year/">Donate</a>' in page
    assert 'max="10000.00" value="3000.00"' in page
    assert "Raised $3,000 of $10,000" in page
    assert "2 donors" in page
    assert "11 days left" in page


def test_progress_bar_is_an_accessible_progress_element(client, campaign):
    page = client.get("/").content.decode()
    assert "<progress " in page
    assert 'aria-label="Raised so far toward the goal"' in page
    assert 'aria-describedby="campaign-progress-text"' in page


def test_banner_appears_on_topic_and_article_pages_too(client, campaign, make_article):
    article = make_article()
    for path in ("/topics/peru/", article.get_absolute_url()):
        assert "Urgent End Of Year Fundraising Campaign" in client.get(path).content.decode()


def test_no_banner_when_no_campaign_runs(client, make_campaign):
    now = timezone.now()
    make_campaign(slug="switched-off", is_active=False)
    make_campaign(
        slug="finished", starts_at=now - timedelta(days=30), ends_at=now - timedelta(days=1)
    )
    make_campaign(
        slug="upcoming", starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=30)
    )
    page = client.get("/").content.decode()
    assert "campaign-banner" not in page


def test_banner_is_the_same_for_every_reader_and_sets_no_cookie(
    client, django_user_model, campaign
):
    first = client.get("/")
    second = client.get("/")
    assert not first.cookies
    assert first.content == second.content
    # Dismissal is client-side, keyed by the campaign slug.
    page = first.content.decode()
    assert 'data-campaign="end-of-year"' in page
    # The script is inline (no request holds up the first paint), allowed by its hash.
    assert f"<script>{settings.CAMPAIGN_BANNER_SCRIPT}</script>" in page


def test_dismissal_script_keys_local_storage_by_campaign():
    from pathlib import Path

    script = (Path(__file__).parents[1] / "banner.js").read_text()
    assert "localStorage" in script
    assert '"pressroom:campaign-dismissed:" + banner.getAttribute("data-campaign")' in script
    assert "document.cookie" not in script


def test_banner_costs_no_query_once_cached(campaign):
    template = Template("{% load fundraising %}{% campaign_banner %}")
    render_for_a_reader(template)
    with CaptureQueriesContext(connection) as queries:
        html = render_for_a_reader(template)
    assert "Urgent End Of Year Fundraising Campaign" in html
    assert len(queries) == 0


def test_new_gift_shows_on_the_next_render(campaign, django_capture_on_commit_callbacks):
    template = Template("{% load fundraising %}{% campaign_banner %}")
    assert "Raised $0 of $10,000" in render_for_a_reader(template)
    with django_capture_on_commit_callbacks(execute=True):
        give(campaign, "75", "c@example.org", "t-9")
    assert "Raised $75 of $10,000" in render_for_a_reader(template)


def test_an_editor_render_reads_the_figures_afresh(campaign):
    """Outside a public request (an editor's page, a task), nothing kept is used."""
    template = Template("{% load fundraising %}{% campaign_banner %}")
    assert "Raised $0 of $10,000" in render_for_a_reader(template)
    give(campaign, "80", "f@example.org", "t-80")  # not committed yet: nothing announced
    assert "Raised $80 of $10,000" in template.render(Context({}))


def test_figures_past_the_goal_keep_the_bar_full(client, campaign):
    give(campaign, "12000", "big@example.org", "t-big")
    page = client.get("/").content.decode()
    assert 'max="10000.00" value="10000.00"' in page
    assert "Raised $12,000 of $10,000" in page


def test_digest_email_block_in_html_and_text(campaign, settings):
    settings.SITE_URL = "https://news.example.org"
    give(campaign, "1250", "a@example.org", "t-1")
    html = Template('{% load fundraising %}{% campaign_email_block "html" %}').render(Context({}))
    text = Template('{% load fundraising %}{% campaign_email_block "text" %}').render(Context({}))
    for block in (html, text):
        assert "Raised $1,250 of $10,000" in block
        assert "1 donor" in block
        assert "11 days left" in block
        assert "https://news.example.org/donate/end-of-year/" in block
    assert "Urgent End Of Year Fundraising Campaign" in html
    assert "URGENT END OF YEAR FUNDRAISING CAMPAIGN" in text
    assert "<" not in text


def test_email_block_is_empty_without_a_campaign(db):
    assert (
        Template('{% load fundraising %}{% campaign_email_block "text" %}').render(Context({}))
        == ""
    )


def test_demo_creates_a_running_end_of_year_campaign_with_a_goal(client, db):
    line = create_demo_campaign()
    campaign = Campaign.objects.running().get()
    assert campaign.title == "End Of Year Fundraising Campaign"
    assert campaign.heading == "Urgent End Of Year Fundraising Campaign"
    assert "Online donations are back!" in campaign.message
    assert campaign.goal_amount == Decimal(25000)
    assert "raised $185 of $25,000" in line
    assert create_demo_campaign() == line  # running it again adds nothing
    page = client.get("/").content.decode()
    assert "Urgent End Of Year Fundraising Campaign" in page
    assert "Raised $185 of $25,000" in page


def test_a_gift_shows_on_every_cached_page_on_the_next_request(
    client, campaign, make_article, django_capture_on_commit_callbacks
):
    """The figures are part of the one content generation: a gift moves it on, so no process
    serves a page with the old figures once the gift is committed."""
    article = make_article()
    pages = ["/", "/topics/peru/", article.get_absolute_url()]
    for path in pages:
        assert "Raised $0 of $10,000" in client.get(path).content.decode()
        assert client.get(path)["X-Page-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        give(campaign, "40", "d@example.org", "t-40")
    for path in pages:
        response = client.get(path)
        assert response["X-Page-Cache"] == "miss", path
        assert "Raised $40 of $10,000" in response.content.decode(), path


def test_a_campaign_shows_from_its_start_and_goes_at_its_end_without_a_save(client, make_campaign):
    """A campaign's start and end are moments the page cache knows: no page stored before one
    is served after it."""
    now = timezone.now()
    starts_at, ends_at = now + timedelta(seconds=2), now + timedelta(seconds=4)
    make_campaign(starts_at=starts_at, ends_at=ends_at)
    before = client.get("/")
    again = client.get("/")
    # A loaded machine may already be past the start: only what was served before it counts.
    if timezone.now() < starts_at:
        assert "campaign-banner" not in before.content.decode()
        assert again["X-Page-Cache"] == "hit"
    time.sleep(max(0.0, (starts_at - timezone.now()).total_seconds()) + 0.05)
    during = client.get("/").content.decode()
    if timezone.now() < ends_at:
        assert "Urgent End Of Year Fundraising Campaign" in during
    time.sleep(max(0.0, (ends_at - timezone.now()).total_seconds()) + 0.05)
    assert "campaign-banner" not in client.get("/").content.decode()


def test_a_gift_recorded_by_another_worker_process_shows_on_the_next_render(campaign):
    """With the per-process cache, the worker that records a gift cannot delete this process's
    cached figures; it moves the content generation on, which every process reads."""
    template = Template("{% load fundraising %}{% campaign_banner %}")
    assert "Raised $0 of $10,000" in render_for_a_reader(template)
    give(campaign, "60", "e@example.org", "t-60")  # its own invalidation waits for a commit
    assert "Raised $0 of $10,000" in render_for_a_reader(template)  # still this process's copy
    forget_campaign_figures()  # what the other process does after its commit
    assert "Raised $60 of $10,000" in render_for_a_reader(template)
