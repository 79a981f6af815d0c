"""`pressroom demo`: the same seed gives the same newsroom, realistic enough to look at."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from pressroom.accounts.roles import AUDIENCE, EDITOR, FUNDRAISING
from pressroom.publishing.demo import generate
from pressroom.publishing.models import Article, Author, Topic


def _corpus(seed: int, now=None):
    names, people, stream = generate(300, seed=seed, now=now)
    return names, people, list(stream)


def test_same_seed_gives_the_same_titles_slugs_and_topics_on_any_day():
    names, people, first = _corpus(7)
    later = timezone.now() + timedelta(days=40)
    names_again, people_again, second = _corpus(7, now=later)
    assert names == names_again
    assert people == people_again
    assert [(a.title, a.slug, a.topics, a.authors) for a in first] == [
        (a.title, a.slug, a.topics, a.authors) for a in second
    ]
    _, _, other = _corpus(8)
    assert [a.title for a in other] != [a.title for a in first]


def test_corpus_looks_like_a_real_newsroom():
    now = timezone.now()
    names, people, articles = _corpus(1, now=now)
    assert len(names) == 60
    assert len(set(names)) == 60
    assert len(people) >= 10
    assert len({a.slug for a in articles}) == len(articles)

    # Skewed: the biggest topic holds many times what a typical topic does.
    per_topic = Counter(name for article in articles for name in article.topics)
    counts = sorted(per_topic.values(), reverse=True)
    assert counts[0] >= 5 * counts[len(counts) // 2]

    dates = [article.published_at for article in articles]
    assert all(date <= now for date in dates)
    assert max(dates) - min(dates) > timedelta(days=3 * 365)
    assert 1 <= sum(date > now - timedelta(hours=24) for date in dates) <= 10

    republished = [a for a in articles if a.original_outlet]
    assert 0.05 * len(articles) < len(republished) < 0.5 * len(articles)
    assert all(a.original_url.startswith("https://") for a in republished)
    assert len({name for a in articles for name in a.authors}) >= 10


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
