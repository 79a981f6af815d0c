"""`pressroom demo`: the same seed gives the same newsroom, realistic enough to look at."""

from collections import Counter
from datetime import timedelta

from django.utils import timezone

from pressroom.publishing.demo import generate


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
