"""`pressroom demo`: the same seed gives the same newsroom, realistic enough to look at."""

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.text import slugify

from pressroom.publishing import services
from pressroom.publishing.demo import create_demo_corpus, generate
from pressroom.publishing.models import Article


def _corpus(seed: int, now=None):
    names, people, stream = generate(300, seed=seed, now=now)
    return names, people, list(stream)


def test_same_seed_gives_the_same_titles_and_topics_on_any_day():
    names, people, first = _corpus(7)
    later = timezone.now() + timedelta(days=40)
    names_again, people_again, second = _corpus(7, now=later)
    assert names == names_again
    assert people == people_again
    assert [(a.title, a.topics, a.authors) for a in first] == [
        (a.title, a.topics, a.authors) for a in second
    ]
    _, _, other = _corpus(8)
    assert [a.title for a in other] != [a.title for a in first]


def test_corpus_looks_like_a_real_newsroom():
    now = timezone.now()
    names, people, articles = _corpus(1, now=now)
    assert len(names) == 60
    assert len(set(names)) == 60
    assert len(people) >= 10

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
def test_demo_articles_take_their_slugs_from_publishing_like_every_other_writer():
    """No slug of its own: the corpus asks publishing's slug service, as the admin and the
    importers do, so titles that repeat get 'title', 'title-2', 'title-3' in the order written,
    across batches, and an editor's article keeps the slug it had."""
    _, _, stream = generate(1, seed=5)
    first_title = next(stream).title
    editors = services.save_article(Article(title=first_title, body="<p>Written by hand.</p>"))
    assert editors.slug == slugify(first_title)

    created = create_demo_corpus(600, seed=5, batch_size=100)

    assert created == 600
    slugs_by_title: dict[str, list[str]] = defaultdict(list)
    for title, slug in Article.objects.order_by("pk").values_list("title", "slug"):
        slugs_by_title[title].append(slug)
    repeated = [title for title, slugs in slugs_by_title.items() if len(slugs) > 1]
    assert len(set(repeated) - {first_title}) >= 3, "the corpus repeats some titles"
    assert len(slugs_by_title[first_title]) >= 2
    for title, slugs in slugs_by_title.items():
        base = slugify(title)
        assert slugs == [base] + [f"{base}-{number}" for number in range(2, len(slugs) + 1)]
    editors.refresh_from_db()
    assert editors.slug == slugify(first_title)


@pytest.mark.django_db
def test_the_demo_builds_a_header_and_a_footer_menu(client):
    from pressroom.publishing.models import MenuItem

    create_demo_corpus(30, topics=8)
    header = [item.text for item in MenuItem.objects.of_menu("header")]
    assert header == [*generate(0, topics=8)[0][:5], "All topics"]
    assert [item.text for item in MenuItem.objects.of_menu("footer")] == [
        "About",
        "Contact",
        "Donate",
        "Daily Digest archive",
        "Privacy",
    ]
    html = client.get("/").content.decode()
    assert '<a href="/topics/">All topics</a>' in html
    assert '<a href="/donate/">Donate</a>' in html
    create_demo_corpus(0, topics=8)  # a second run adds no second menu
    assert MenuItem.objects.count() == 6 + 5  # header: five topics and "All topics"
