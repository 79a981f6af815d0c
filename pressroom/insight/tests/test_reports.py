"""The admin's "Reader insight" page: a period's views per day (an SVG chart drawn on the server,
with a data table), top articles and topics, referrer domains, campaigns and sends, CSV of each
table; and the nightly roll-up of old daily counts."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from pressroom.accounts.roles import AUDIENCE, CONTRIBUTOR, FUNDRAISING
from pressroom.fundraising.models import Donation, Donor
from pressroom.insight import services, tasks
from pressroom.insight.models import MonthlyPageView, PageView
from pressroom.newsletter.models import Digest, OneOffEmail, SendVisit, Subscriber
from pressroom.newsletter.tests.conftest import run_worker

pytestmark = pytest.mark.django_db
URL = "/admin/insight/pageview/"


@pytest.fixture
def counted(make_article, topic):
    """A week of counts: an article read most on Tuesday, a topic page, two referrers, a send."""
    today = timezone.localdate()
    article = make_article(title="Miners march on Lima")
    quiet = make_article(title="A quiet story")
    now = timezone.now()
    send = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Our spring appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(days=3),
    )
    rows = [
        (
            today - timedelta(days=2),
            article.get_absolute_url(),
            "article",
            "example.org",
            "",
            40,
            30,
        ),
        (
            today - timedelta(days=1),
            article.get_absolute_url(),
            "article",
            "",
            f"email-{send.pk}",
            12,
            10,
        ),
        (
            today - timedelta(days=1),
            quiet.get_absolute_url(),
            "article",
            "social.example",
            "",
            3,
            3,
        ),
        (today, topic.get_absolute_url(), "topic", "", "", 7, 5),
    ]
    for day, path, kind, referrer, campaign, views, visitors in rows:
        PageView.objects.create(
            day=day,
            path=path,
            kind=kind,
            referrer=referrer,
            campaign=campaign,
            views=views,
            visitors=visitors,
        )
    SendVisit.objects.create(send=send, day=today - timedelta(days=1), visits=12)
    return {"article": article, "quiet": quiet, "send": send, "today": today}


def test_the_report_shows_the_periods_figures_with_a_chart_screen_readers_can_read(
    audience_client, counted
):
    today = counted["today"]
    start = today - timedelta(days=6)
    response = audience_client.get(URL, {"start": start, "end": today})
    assert response.status_code == 200
    html = response.content.decode()
    svg = re.search(r'<svg xmlns="http://www.w3.org/2000/svg".*?</svg>', html, re.S).group(0)
    assert '<title id="views-chart-title">Views per day</title>' in svg
    assert (
        f"62 views from {start} to {today}; busiest day {today - timedelta(days=2)} with 40." in svg
    )
    assert svg.count('class="bar"') == 7  # one bar per day of the period
    assert "<script" not in html.split('id="insight-period"')[1]  # readable without JavaScript
    days = response.context["tables"][0]
    assert days.rows[-3:] == [
        (today - timedelta(days=2), 40, 30),
        (today - timedelta(days=1), 15, 13),
        (today, 7, 5),
    ]
    tables = {table.name: table.rows for table in response.context["tables"]}
    assert tables["articles"] == [
        ("Miners march on Lima", counted["article"].get_absolute_url(), 52, 40),
        ("A quiet story", counted["quiet"].get_absolute_url(), 3, 3),
    ]
    assert tables["topics"] == [("Peru", "/topics/peru/", 7, 5)]
    assert tables["referrers"] == [("example.org", 40, 30), ("social.example", 3, 3)]
    assert tables["campaigns"] == [(f"email-{counted['send'].pk}", 12, 10)]
    assert tables["sends"] == [
        ("Our spring appeal", "Appeal", counted["send"].date, f"email-{counted['send'].pk}", 12)
    ]


def test_a_shorter_period_leaves_the_rest_out(audience_client, counted):
    today = counted["today"]
    response = audience_client.get(URL, {"start": today, "end": today})
    tables = {table.name: table.rows for table in response.context["tables"]}
    assert tables["articles"] == []
    assert tables["days"] == [(today, 7, 5)]
    assert "Nothing counted in this period." in response.content.decode()


@pytest.mark.parametrize("name", ["days", "articles", "topics", "referrers", "campaigns", "sends"])
def test_each_table_downloads_as_csv(audience_client, counted, name):
    today = counted["today"]
    response = audience_client.get(
        URL, {"start": today - timedelta(days=6), "end": today, "table": name}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"insight-{name}-" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    shown = audience_client.get(URL, {"start": today - timedelta(days=6), "end": today})
    table = next(table for table in shown.context["tables"] if table.name == name)
    assert rows[0] == list(table.header)
    assert len(rows) == len(table.rows) + 1
    assert len(rows) > 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-13-45", "end": "2026-01-01"}, "Enter a valid date."),
        ({"start": "2026-03-01", "end": "2026-02-01"}, "The end comes on or after the start."),
        ({"start": "2020-01-01", "end": "2022-01-01"}, "Choose at most 366 days."),
        ({"start": "1900-01-01", "end": "1900-01-02"}, "Choose a day from 2000-01-01 on."),
        ({"start": "2026-01-01", "end": "9999-12-31"}, "Choose a day up to today."),
        ({"start": "x" * 5000, "end": ""}, "Enter a valid date."),
        ({"start": "2026-01-01", "end": "2026-01-02", "table": "passwords"}, "Select a valid"),
    ],
)
def test_bad_periods_re_render_with_a_clear_message(audience_client, query, message):
    response = audience_client.get(URL, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_only_staff_with_the_permission_see_it(make_staff, editor_client, counted):
    assert editor_client.get(URL).status_code == 200  # Editor role holds insight.view_pageview
    contributor = Client()
    contributor.force_login(make_staff("cora", CONTRIBUTOR.name))
    assert contributor.get(URL).status_code == 403
    assert Client().get(URL).status_code == 302  # to the sign-in page
    assert editor_client.post(f"{URL}add/").status_code == 403  # counts are never edited


def test_old_daily_counts_are_rolled_up_into_monthly_totals_and_deleted(settings, make_article):
    settings.INSIGHT_RAW_RETENTION_DAYS = 396
    article = make_article(title="Miners march on Lima")
    path = article.get_absolute_url()
    today = date(2026, 11, 30)
    for day, referrer, views in (
        (date(2025, 9, 3), "", 5),
        (date(2025, 9, 3), "example.org", 2),
        (date(2025, 9, 28), "", 4),
        (date(2025, 10, 30), "", 9),  # 396 days before today: kept
        (date(2025, 11, 1), "", 1),
    ):
        PageView.objects.create(
            day=day, path=path, kind="article", referrer=referrer, views=views, visitors=1
        )
    assert services.roll_up_page_views(today) == 3
    assert services.roll_up_page_views(today) == 0  # idempotent: nothing added twice
    assert list(MonthlyPageView.objects.values_list("month", "path", "views", "visitors")) == [
        (date(2025, 9, 1), path, 11, 3)
    ]
    assert sorted(PageView.objects.values_list("day", flat=True)) == [
        date(2025, 10, 30),
        date(2025, 11, 1),
    ]
    # The next day, October's first row goes; it joins its month's total.
    assert services.roll_up_page_views(date(2026, 12, 1)) == 1
    assert MonthlyPageView.objects.get(month=date(2025, 10, 1)).views == 9


def test_a_day_of_more_rows_than_the_database_takes_variables_rolls_up(settings):
    """Review finding 2: one old day with more rows than SQLite takes variables in one query
    (250,000 on Debian's build; lowered to 999 here, as other builds have it) rolls up: one
    aggregate and one delete per day, no list of ids."""
    settings.INSIGHT_RAW_RETENTION_DAYS = 396
    old = date(2025, 9, 3)
    PageView.objects.bulk_create(
        PageView(
            day=old,
            path=f"/articles/a{number % 100}/",
            kind="article",
            source=f"s{number}",
            views=2,
        )
        for number in range(2_500)
    )
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    try:
        assert services.roll_up_page_views(date(2026, 11, 30)) == 2_500
    finally:
        if connection.vendor == "sqlite":
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    assert not PageView.objects.exists()
    assert MonthlyPageView.objects.count() == 100
    assert MonthlyPageView.objects.get(path="/articles/a7/").views == 2 * 25


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_roll_up(make_article):
    article = make_article(title="Miners march on Lima")
    old = timezone.localdate() - timedelta(days=800)
    PageView.objects.create(day=old, path=article.get_absolute_url(), kind="article", views=3)
    tasks.roll_up_page_views.enqueue()
    run_worker()
    assert not PageView.objects.exists()
    assert MonthlyPageView.objects.get().views == 3


def test_signups_and_donations_are_attributed_to_the_article_they_started_from(make_staff, counted):
    audience_client = Client()  # sees subscribers and donations
    audience_client.force_login(make_staff("both", AUDIENCE.name, FUNDRAISING.name))
    article = counted["article"].get_absolute_url()
    now = timezone.now()
    for number, confirmed in ((1, True), (2, False)):
        Subscriber.objects.create(
            email=f"reader{number}@example.org",
            source_path=article,
            confirmed_at=now if confirmed else None,
        )
    Subscriber.objects.create(
        email="old@example.org", source_path=article, created_at=now - timedelta(days=60)
    )  # before the period
    Subscriber.objects.create(email="nowhere@example.org")  # started nowhere known
    for number, (amount, currency) in enumerate(
        ((Decimal(25), "USD"), (Decimal(10), "USD"), (Decimal(40), "EUR"))
    ):
        Donation.objects.create(
            donor=Donor.objects.create(email=f"donor{number}@example.org"),
            amount=amount,
            currency=currency,
            provider="stripe",
            provider_reference=f"pi_{number}",
            source_path=article,
        )
    Donation.objects.create(
        donor=Donor.objects.create(email="refused@example.org"),
        amount=Decimal(99),
        currency="USD",
        provider="stripe",
        provider_reference="pi_refunded",
        source_path=article,
        status=Donation.Status.REFUNDED,
    )
    today = counted["today"]
    response = audience_client.get(URL, {"start": today - timedelta(days=6), "end": today})
    tables = {table.name: table.rows for table in response.context["tables"]}
    assert tables["signups"] == [("Miners march on Lima", article, 2, 1)]
    assert tables["donations"] == [
        ("Miners march on Lima", article, "USD", 2, Decimal(35), Decimal(35)),
        ("Miners march on Lima", article, "EUR", 1, Decimal(40), Decimal(40)),
    ]
    csv_text = b"".join(
        audience_client.get(
            URL, {"start": today - timedelta(days=6), "end": today, "table": "donations"}
        ).streaming_content
    ).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(csv_text)))[1] == [
        "Miners march on Lima",
        article,
        "USD",
        "2",
        "35.00",
        "35.00",
    ]


def test_donations_and_signups_are_shown_only_to_staff_who_may_see_them(
    make_staff, editor_client, counted
):
    """Review finding 12: an Editor (page views) sees neither what each page raised nor its
    signups; Audience sees signups, Fundraising sees donations."""
    today = counted["today"]
    period = {"start": today - timedelta(days=6), "end": today}

    def shown(client: Client) -> set[str]:
        return {table.name for table in client.get(URL, period).context["tables"]}

    fundraiser = Client()
    fundraiser.force_login(make_staff("fran", FUNDRAISING.name))
    audience = Client()
    audience.force_login(make_staff("aud2", AUDIENCE.name))
    assert {"signups", "donations"}.isdisjoint(shown(editor_client))
    assert "articles" in shown(editor_client)
    assert ("donations" in shown(fundraiser), "signups" in shown(fundraiser)) == (True, False)
    assert ("donations" in shown(audience), "signups" in shown(audience)) == (False, True)
    assert editor_client.get(URL, {**period, "table": "donations"}).status_code == 403
    assert audience.get(URL, {**period, "table": "donations"}).status_code == 403
    assert fundraiser.get(URL, {**period, "table": "signups"}).status_code == 403
    assert fundraiser.get(URL, {**period, "table": "donations"}).status_code == 200


def test_an_old_period_shows_its_monthly_totals(audience_client, make_article, settings):
    """Review finding 15: once old days are rolled up, a period over them shows the months'
    totals instead of nothing."""
    settings.INSIGHT_RAW_RETENTION_DAYS = 30
    path = make_article(title="Miners march on Lima").get_absolute_url()
    old = timezone.localdate() - timedelta(days=200)
    PageView.objects.create(day=old, path=path, kind="article", views=7, visitors=5)
    assert services.roll_up_page_views() == 1
    response = audience_client.get(URL, {"start": old - timedelta(days=3), "end": old})
    tables = {table.name: table.rows for table in response.context["tables"]}
    assert tables["monthly"] == [(old.strftime("%Y-%m"), path, "article", 7, 5)]
    assert "Monthly totals of older days" in response.content.decode()
    csv_text = b"".join(
        audience_client.get(
            URL, {"start": old - timedelta(days=3), "end": old, "table": "monthly"}
        ).streaming_content
    ).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(csv_text)))[1] == [
        old.strftime("%Y-%m"),
        path,
        "article",
        "7",
        "5",
    ]
