"""Least privilege: each staff role sees only its own data in the admin, its menus and exports.

It spans every app's admin, so it lives with the project's tests, not in one app."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pressroom.accounts.roles import (
    ADMINISTRATOR,
    AUDIENCE,
    CONTRIBUTOR,
    EDITOR,
    FUNDRAISING,
    ROLES,
)
from pressroom.fundraising.models import Campaign
from pressroom.newsletter.models import Digest, Subscriber

pytestmark = pytest.mark.django_db

# What each area of the admin is, by the pages that show it (lists, custom views, exports).
CONTENT = [
    "/admin/publishing/article/",
    "/admin/publishing/article/add/",
    "/admin/publishing/topic/",
]
AUDIENCE_PAGES = [
    "/admin/newsletter/subscriber/",
    "/admin/newsletter/subscriber/add/",
    "/admin/newsletter/digest/",
    "/admin/newsletter/delivery/",
    "/admin/newsletter/digest/{digest}/progress/",
    "/admin/newsletter/digest/{digest}/progress.json",
    "/admin/newsletter/oneoffemail/",
    "/admin/newsletter/oneoffemail/add/",
    "/admin/newsletter/oneoffemail/{digest}/results/",
    "/admin/newsletter/oneoffemail/results.csv",
    "/admin/newsletter/digestedition/",
]
FUNDRAISING_PAGES = [
    "/admin/fundraising/campaign/",
    "/admin/fundraising/donor/",
    "/admin/fundraising/donation/",
    "/admin/fundraising/webhookevent/",
    "/admin/fundraising/campaign/reports/",
    "/admin/fundraising/campaign/reports/export.csv",
    "/admin/fundraising/campaign/reports/{campaign}/chart.svg",
]
ACCOUNTS = ["/admin/auth/user/", "/admin/auth/group/"]
MENU_LINKS = {
    "content": "/admin/publishing/article/",
    "audience": "/admin/newsletter/subscriber/",
    "fundraising": "/admin/fundraising/donor/",
    "accounts": "/admin/auth/user/",
}


@pytest.fixture
def objects(db):
    now = timezone.now()
    digest = Digest.objects.create(
        date=now.date(), subject="Today", covers_from=now, covers_until=now
    )
    campaign = Campaign.objects.create(
        slug="spring",
        title="Spring",
        heading="Spring appeal",
        message="Give.",
        goal_amount=1000,
        starts_at=now,
        ends_at=now + timezone.timedelta(days=3),
    )
    return {"digest": digest.pk, "campaign": campaign.pk}


def browser_for(make_staff, *roles: str) -> Client:
    browser = Client()
    browser.force_login(make_staff("staff-" + "-".join(roles).lower() or "none", *roles))
    return browser


def statuses(browser: Client, pages: list[str], objects: dict) -> dict[str, int]:
    return {page: browser.get(page.format(**objects)).status_code for page in pages}


def menu(browser: Client) -> set[str]:
    """The areas linked from the admin's home page (and so its navigation sidebar)."""
    html = browser.get("/admin/").content.decode()
    return {area for area, link in MENU_LINKS.items() if f'href="{link}"' in html}


@pytest.mark.parametrize(
    ("roles", "allowed", "areas"),
    [
        ((EDITOR.name,), {"content"}, {"content"}),
        # Their own drafts only (publishing/tests/test_review.py shows what they may do).
        ((CONTRIBUTOR.name,), {"content"}, {"content"}),
        ((AUDIENCE.name,), {"audience"}, {"audience"}),
        ((FUNDRAISING.name,), {"fundraising"}, {"fundraising"}),
        (
            (AUDIENCE.name, FUNDRAISING.name),
            {"audience", "fundraising"},
            {"audience", "fundraising"},
        ),
        (
            (ADMINISTRATOR.name,),
            {"content", "audience", "fundraising", "accounts"},
            {"content", "audience", "fundraising", "accounts"},
        ),
    ],
)
def test_each_role_reaches_only_its_own_pages_menus_and_exports(
    make_staff, objects, roles, allowed, areas
):
    browser = browser_for(make_staff, *roles)
    pages = {
        "content": CONTENT,
        "audience": AUDIENCE_PAGES,
        "fundraising": FUNDRAISING_PAGES,
        "accounts": ACCOUNTS,
    }
    for area, urls in pages.items():
        for page, status in statuses(browser, urls, objects).items():
            if area in allowed:
                assert status == 200, f"{roles} should open {page}"
            else:
                assert status == 403, f"{roles} must be refused {page}, got {status}"
    assert menu(browser) == areas


def test_an_editor_sees_no_subscriber_or_donor_data_anywhere_in_the_admin(
    editor_client, objects, make_subscriber_row, donation_row
):
    for page in ["/admin/", "/admin/newsletter/", "/admin/fundraising/"]:
        response = editor_client.get(page)
        html = response.content.decode()
        assert "rosa@example.org" not in html
        assert "dana@example.org" not in html
        assert response.status_code in {200, 404}
    export = editor_client.get("/admin/fundraising/campaign/reports/export.csv")
    assert export.status_code == 403
    assert b"dana@example.org" not in export.content
    delete = editor_client.post(
        f"/admin/newsletter/subscriber/{make_subscriber_row.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert Subscriber.objects.filter(pk=make_subscriber_row.pk).exists()


@pytest.fixture
def make_subscriber_row(db):
    return Subscriber.objects.create(email="rosa@example.org", status="pending")


@pytest.fixture
def donation_row(db, objects):
    from pressroom.fundraising import services

    return services.record_offline_donation(
        email="dana@example.org",
        name="Dana",
        amount=50,
        currency="USD",
        method="cheque",
        reference="c-1",
        campaign=Campaign.objects.get(),
        received_at=timezone.now(),
        note="",
        send_receipt=False,
    )


def test_staff_without_a_role_sees_nothing(make_staff, objects):
    browser = browser_for(make_staff)
    everything = CONTENT + AUDIENCE_PAGES + FUNDRAISING_PAGES + ACCOUNTS
    assert set(statuses(browser, everything, objects).values()) == {403}
    assert menu(browser) == set()


def test_the_contributor_role_holds_its_single_permissions_and_cannot_publish(db):
    granted = {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=CONTRIBUTOR.name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert granted == set(CONTRIBUTOR.permissions)
    assert "publishing.publish_article" not in granted
    editor = Group.objects.get(name=EDITOR.name)
    assert editor.permissions.filter(codename="publish_article").exists()


def test_roles_are_groups_holding_exactly_their_apps_permissions(db):
    groups = {group.name: group for group in Group.objects.all()}
    assert set(groups) >= {role.name for role in ROLES}
    for role in (EDITOR, AUDIENCE, FUNDRAISING):
        held = {
            f"{app}.{codename}"
            for app, codename in groups[role.name].permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        every = {
            f"{app}.{codename}"
            for app, codename in Permission.objects.values_list(
                "content_type__app_label", "codename"
            )
        }
        # Every permission of the role's apps but the ones it is denied, and its single ones.
        expected = {dotted for dotted in every if dotted.split(".", 1)[0] in role.apps} - set(
            role.excluded
        ) | (set(role.permissions) & every)
        assert held == expected, role.name
    assert groups[ADMINISTRATOR.name].permissions.count() == Permission.objects.count()


def test_editor_role_holds_the_content_apps_permissions_and_nothing_else(db):
    from django.contrib.auth.models import Group, Permission

    from pressroom.accounts.roles import EDITOR

    granted = set(Group.objects.get(name=EDITOR.name).permissions.all())
    content = set(Permission.objects.filter(content_type__app_label__in=EDITOR.apps))
    assert content
    # The site settings' organisation, footer and stylesheet are not the editors' (issue 14).
    denied = {
        permission
        for permission in content
        if f"{permission.content_type.app_label}.{permission.codename}" in EDITOR.excluded
    }
    assert {permission.codename for permission in denied} == {
        "change_organisation",
        "change_page_code",
    }
    # On top of the apps': the single permissions the role names (reading reader insight).
    single = {
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in (name.split(".") for name in EDITOR.permissions)
    }
    assert {f"{p.content_type.app_label}.{p.codename}" for p in single} == {"insight.view_pageview"}
    assert granted == (content - denied) | single
    assert {permission.content_type.app_label for permission in granted - single} <= set(
        EDITOR.apps
    )


def test_a_permission_added_to_a_group_by_hand_is_taken_back_on_migrate(db):
    from django.core.management import call_command

    editor = Group.objects.get(name=EDITOR.name)
    editor.permissions.add(Permission.objects.get(codename="view_donor"))
    call_command("migrate", verbosity=0)
    assert not editor.permissions.filter(codename="view_donor").exists()


def test_a_new_role_is_one_entry_in_the_roles_list(db, monkeypatch):
    """How a role is added (as issue 13's Contributor was): one Role, created and filled on
    migrate."""
    from django.core.management import call_command

    from pressroom.accounts import roles

    proofreader = roles.Role(
        "Proofreader",
        "Reads and corrects drafts.",
        permissions=(
            "publishing.add_article",
            "publishing.change_article",
            "publishing.view_article",
        ),
    )
    monkeypatch.setattr(roles, "ROLES", (*roles.ROLES, proofreader))
    call_command("migrate", verbosity=0)
    granted = Group.objects.get(name="Proofreader").permissions.values_list("codename", flat=True)
    assert set(granted) == {"add_article", "change_article", "view_article"}


# --- Confirming a subscriber by hand -------------------------------------------------------------


def subscriber_form(**fields) -> dict:
    return {"email": "rosa@example.org", "all_topics": "on", "source": "admin", **fields}


def test_confirming_a_subscriber_by_hand_needs_a_reason_that_is_recorded(
    audience_client, make_subscriber_row
):
    url = reverse("admin:newsletter_subscriber_change", args=[make_subscriber_row.pk])
    refused = audience_client.post(url, subscriber_form(status="confirmed"))
    assert refused.status_code == 200
    assert "Say how this reader consented" in refused.content.decode()
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.status == Subscriber.Status.PENDING

    reason = "Signed the paper list at the 12 May meeting."
    saved = audience_client.post(
        url, subscriber_form(status="confirmed", confirmation_reason=reason)
    )
    assert saved.status_code == 302
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.status == Subscriber.Status.CONFIRMED
    assert make_subscriber_row.confirmed_at is not None
    entry = LogEntry.objects.get(object_id=str(make_subscriber_row.pk))
    assert entry.user.username == "aud"
    assert reason in entry.get_change_message()
    history_url = reverse("admin:newsletter_subscriber_history", args=[make_subscriber_row.pk])
    history = audience_client.get(history_url).content.decode()
    assert reason in history


def test_adding_a_confirmed_subscriber_by_hand_needs_a_reason_too(audience_client):
    url = reverse("admin:newsletter_subscriber_add")
    refused = audience_client.post(url, subscriber_form(status="confirmed"))
    assert refused.status_code == 200
    assert not Subscriber.objects.exists()
    saved = audience_client.post(
        url, subscriber_form(status="confirmed", confirmation_reason="Asked us by phone.")
    )
    assert saved.status_code == 302
    assert Subscriber.objects.get().status == Subscriber.Status.CONFIRMED
    assert "Asked us by phone." in LogEntry.objects.get().get_change_message()


def test_other_edits_of_a_confirmed_subscriber_need_no_reason(audience_client, make_subscriber_row):
    make_subscriber_row.confirm()
    make_subscriber_row.save()
    url = reverse("admin:newsletter_subscriber_change", args=[make_subscriber_row.pk])
    response = audience_client.post(url, subscriber_form(status="confirmed", is_paused="on"))
    assert response.status_code == 302
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.is_paused


def test_the_email_of_an_existing_subscriber_cannot_be_replaced(
    audience_client, make_subscriber_row
):
    make_subscriber_row.confirm()
    make_subscriber_row.save()
    url = reverse("admin:newsletter_subscriber_change", args=[make_subscriber_row.pk])
    page = audience_client.get(url).content.decode()
    assert 'name="email"' not in page  # shown, not editable
    response = audience_client.post(
        url, subscriber_form(status="confirmed", email="someone-else@example.org")
    )
    assert response.status_code == 302  # the other fields save; the address is not one of them
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.email == "rosa@example.org"
    assert not Subscriber.objects.filter(email="someone-else@example.org").exists()


def test_the_subscriber_form_refuses_a_new_address_for_an_existing_row(make_subscriber_row):
    from pressroom.newsletter.admin import SubscriberForm

    make_subscriber_row.confirm()
    make_subscriber_row.save()
    form = SubscriberForm(
        data=subscriber_form(status="confirmed", email="someone-else@example.org"),
        instance=make_subscriber_row,
    )
    assert not form.is_valid()
    assert "cannot be changed" in str(form.errors["email"])


@pytest.mark.parametrize("suppressed", ["bounced", "complained"])
def test_a_suppressed_subscriber_cannot_be_confirmed_by_hand(
    audience_client, make_subscriber_row, suppressed
):
    make_subscriber_row.status = suppressed
    make_subscriber_row.suppressed_at = timezone.now()
    make_subscriber_row.suppression_reason = "Hard bounce: 550 5.1.1"
    make_subscriber_row.save()
    url = reverse("admin:newsletter_subscriber_change", args=[make_subscriber_row.pk])
    for status in ("confirmed", "pending", "unsubscribed"):
        refused = audience_client.post(
            url, subscriber_form(status=status, confirmation_reason="They called us.")
        )
        assert refused.status_code == 200
        assert "This address is suppressed" in refused.content.decode()
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.status == suppressed
    assert make_subscriber_row.suppressed_at is not None
    assert make_subscriber_row.suppression_reason == "Hard bounce: 550 5.1.1"
    assert not LogEntry.objects.exists()
    # Other edits of the suppressed row still save, and keep the suppression.
    saved = audience_client.post(url, subscriber_form(status=suppressed, source="import"))
    assert saved.status_code == 302
    make_subscriber_row.refresh_from_db()
    assert make_subscriber_row.status == suppressed
    assert make_subscriber_row.suppression_reason == "Hard bounce: 550 5.1.1"
