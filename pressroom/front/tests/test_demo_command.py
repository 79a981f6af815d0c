"""`pressroom demo`: an empty site gets a newsroom to look at, a demo editor and the other apps'
demo content; a site with content is left alone."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from pressroom.accounts.roles import AUDIENCE, EDITOR, FUNDRAISING
from pressroom.fundraising.demo import DEMO_CAMPAIGN_SLUG, DEMO_GIFTS
from pressroom.fundraising.models import Campaign
from pressroom.publishing.models import Article, Author, Topic
from pressroom.search.backends import search_article_ids


@pytest.mark.django_db
def test_demo_command_fills_an_empty_site_and_prints_the_editor_login(client):
    output = StringIO()
    call_command("demo", articles=120, stdout=output)
    assert Article.objects.count() == 120
    assert Topic.objects.count() == 60
    assert Author.objects.count() >= 10
    assert "Demo editor login: editor / " in output.getvalue()
    editor = get_user_model().objects.get(username="editor")
    assert editor.is_staff
    assert not editor.is_superuser
    # The demo shows the whole newsroom: the demo editor holds every role but Administrator.
    assert set(editor.groups.values_list("name", flat=True)) == {
        EDITOR.name,
        AUDIENCE.name,
        FUNDRAISING.name,
    }
    password = output.getvalue().split("Demo editor login: editor / ")[1].split()[0]
    assert client.login(username="editor", password=password)

    republished = Article.objects.published().exclude(original_outlet="").first()
    html = client.get(republished.get_absolute_url()).content.decode()
    assert f'Originally published by <a href="{republished.original_url}"' in html
    biggest = Topic.objects.get(slug="peru")
    assert client.get(biggest.get_absolute_url()).status_code == 200

    # The other apps' demo content: every article searchable, a running campaign with gifts.
    # Indexed as each batch was written (no second pass over the whole corpus).
    newest = Article.objects.published().newest_first().first()
    for article in (republished, newest):
        assert article.pk in search_article_ids(article.title, limit=200), article.title
    campaign = Campaign.objects.get(slug=DEMO_CAMPAIGN_SLUG)
    assert campaign.totals().donor_count == len(DEMO_GIFTS)
    assert "Fundraising campaign 'End Of Year Fundraising Campaign': raised" in output.getvalue()


@pytest.mark.django_db
def test_demo_command_leaves_a_site_with_content_alone(make_article):
    make_article()
    output = StringIO()
    call_command("demo", articles=10, if_empty=True, stdout=output)
    assert "already there" in output.getvalue()
    assert "Demo editor login" not in output.getvalue()  # no such account on this site
    assert Article.objects.count() == 1
    with pytest.raises(CommandError, match="Articles already exist"):
        call_command("demo", articles=10, stdout=StringIO())


@pytest.mark.django_db
def test_demo_command_refuses_nonsense_counts():
    with pytest.raises(CommandError):
        call_command("demo", articles=-1, stdout=StringIO())


@pytest.mark.django_db
def test_demo_login_is_printed_again_on_later_runs_until_the_password_changes():
    call_command("demo", articles=5, stdout=StringIO())
    again = StringIO()
    call_command("demo", articles=5, if_empty=True, stdout=again)
    assert "Demo editor login: editor / " in again.getvalue()

    editor = get_user_model().objects.get(username="editor")
    editor.set_password("a password of the newsroom's own")
    editor.save()
    changed = StringIO()
    call_command("demo", articles=5, if_empty=True, stdout=changed)
    assert "Demo editor login" not in changed.getvalue()


@pytest.mark.django_db
def test_demo_creates_about_contact_and_privacy_pages_and_the_donate_page_links_contact(
    client, settings
):
    from pressroom.publishing.models import Page

    settings.STRIPE_SECRET_KEY = ""  # no processor: the donate page asks readers to write
    output = StringIO()
    call_command("demo", articles=5, stdout=output)
    assert "Created 3 demo pages" in output.getvalue()
    assert set(Page.objects.published().values_list("path", flat=True)) >= {
        "about",
        "contact",
        "privacy",
    }
    for path in ("/about/", "/contact/", "/privacy/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.context["page"].path == path.strip("/")
    sitemap = client.get("/sitemap-pages.xml").content.decode()
    assert "/contact/</loc>" in sitemap
    donate = client.get("/donate/").content.decode()
    assert '<a href="/contact/">get in touch with us</a>' in donate
