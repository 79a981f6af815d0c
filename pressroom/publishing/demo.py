"""A deterministic demo corpus: realistic English movement news, no downloads.

The same `seed` and `articles` always give the same corpus, so benchmarks and screenshots are
reproducible. Topics follow a Zipf distribution: a few (like "Peru") hold most articles, as on a
real outlet.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, Menu, MenuItem, Topic

PLACES = [
    "Peru",
    "Bolivia",
    "Chile",
    "Argentina",
    "Brazil",
    "Colombia",
    "Ecuador",
    "Mexico",
    "Guatemala",
    "Honduras",
    "Nicaragua",
    "Venezuela",
    "Paraguay",
    "Uruguay",
    "Haiti",
    "Cuba",
    "South Africa",
    "Nigeria",
    "Kenya",
    "Ghana",
    "Senegal",
    "Sudan",
    "Egypt",
    "Tunisia",
    "Palestine",
    "Lebanon",
    "Iran",
    "Turkey",
    "Kurdistan",
    "India",
    "Pakistan",
    "Bangladesh",
    "Sri Lanka",
    "Nepal",
    "Philippines",
    "Indonesia",
    "Myanmar",
    "Thailand",
    "South Korea",
    "Japan",
    "France",
    "Germany",
    "Greece",
    "Spain",
    "Italy",
    "United Kingdom",
    "Ireland",
    "Poland",
    "Ukraine",
    "United States",
    "Canada",
    "Puerto Rico",
    "Australia",
    "New Zealand",
]
THEMES = [
    "Labor",
    "Climate",
    "Indigenous Rights",
    "Housing",
    "Feminism",
    "Migration",
    "Land Rights",
    "Water",
    "Health",
    "Education",
    "Prisons",
    "Media Freedom",
    "Elections",
    "Farmers",
    "Student Movements",
    "Mining",
    "Debt",
    "Police Violence",
    "LGBTQ Rights",
    "Disability",
    "Food Sovereignty",
    "Energy",
    "Trade Unions",
    "Public Transport",
    "Pensions",
    "Repression",
    "Peace Talks",
    "Human Rights",
    "Tenants",
    "Gig Workers",
    "Teachers",
    "Nurses",
    "Dockworkers",
    "Forests",
    "Oceans",
    "Drought",
    "Refugees",
    "Free Speech",
    "Surveillance",
    "Courts",
]
GROUPS = [
    "teachers",
    "nurses",
    "miners",
    "farmworkers",
    "students",
    "dockworkers",
    "garment workers",
    "tenants",
    "Indigenous communities",
    "fishers",
    "bus drivers",
    "street vendors",
    "domestic workers",
    "health workers",
    "residents",
    "women's collectives",
    "retirees",
    "delivery riders",
    "water defenders",
    "land defenders",
]
ACTIONS = [
    ("strike", "walk out over"),
    ("march", "march against"),
    ("blockade", "blockade roads over"),
    ("occupy", "occupy offices to protest"),
    ("vote", "vote to reject"),
    ("win", "win a reprieve on"),
    ("rally", "rally against"),
    ("organize", "organize against"),
    ("petition", "petition the courts over"),
    ("resist", "resist"),
]
ISSUES = [
    "a new mining concession",
    "pension cuts",
    "rising rents",
    "privatized water",
    "a wage freeze",
    "forced evictions",
    "a pipeline through their land",
    "police raids",
    "an emergency decree",
    "school closures",
    "unpaid wages",
    "a free-trade deal",
    "a dam on the river",
    "fuel price hikes",
    "the arrest of community leaders",
    "a ban on public assembly",
    "hospital closures",
    "lithium extraction",
    "toxic spills",
    "a new labor code",
]
OFFICIALS = [
    "the interior ministry",
    "the regional governor",
    "the mining company",
    "the labor ministry",
    "the national congress",
    "the city council",
    "the constitutional court",
    "the police",
]
FIRST_NAMES = [
    "Ana",
    "Luis",
    "Amara",
    "Kwame",
    "Sofia",
    "Rahul",
    "Leila",
    "Tomás",
    "Mei",
    "Nadia",
    "Diego",
    "Yara",
    "Samuel",
    "Ines",
    "Omar",
    "Priya",
    "Joaquín",
    "Fatima",
    "Lucia",
    "Kofi",
]
LAST_NAMES = [
    "Quispe",
    "Mamani",
    "Okafor",
    "Mensah",
    "Rossi",
    "Sharma",
    "Haddad",
    "Álvarez",
    "Chen",
    "Karimi",
    "Fernández",
    "Silva",
    "Mwangi",
    "Duarte",
    "Nasser",
    "Iyer",
    "Torres",
    "Begum",
]
OUTLETS = [
    ("Servindi", "https://www.servindi.org"),
    ("Peoples Dispatch", "https://peoplesdispatch.org"),
    ("Waging Nonviolence", "https://wagingnonviolence.org"),
    ("Common Dreams", "https://www.commondreams.org"),
    ("Truthout", "https://truthout.org"),
    ("Labor Notes", "https://labornotes.org"),
    ("Mongabay", "https://news.mongabay.com"),
    ("NACLA", "https://nacla.org"),
]


@dataclass
class DemoArticle:
    title: str
    body: str
    published_at: datetime
    status: str
    topics: list[str]
    authors: list[str]
    original_outlet: str = ""
    original_url: str = ""
    editor_excerpt: str = ""
    lead_image_url: str = ""
    lead_image_alt: str = ""
    extra: dict = field(default_factory=dict)


def topic_names(count: int) -> list[str]:
    names = PLACES + THEMES
    if count <= len(names):
        return names[:count]
    extra = [f"{place}: {theme}" for place in PLACES for theme in THEMES]
    return (names + extra)[:count]


def author_names(count: int, rng: random.Random) -> list[str]:
    seen: list[str] = []
    while len(seen) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in seen:
            seen.append(name)
    return seen


def _paragraphs(rng: random.Random, place: str, group: str, issue: str) -> list[str]:
    official = rng.choice(OFFICIALS)
    number = rng.choice([200, 500, 1200, 3000, 15000, 40000])
    days = rng.randint(2, 40)
    spokesperson = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    sentences = [
        f"Thousands of {group} in {place} took to the streets this week to protest {issue}, "
        f"in what organizers called the largest mobilization in a decade. The protests began "
        f"{days} days ago and have spread from the capital to provincial towns.",
        f"“We are not asking for favors, we are asking for what is ours,” said {spokesperson}, "
        f"a spokesperson for the coalition. “{official.capitalize()} has ignored us for too long.”",
        f"According to the organizers, more than {number:,} people joined the actions, which "
        f"included road blockades, assemblies and a march on the offices of {official}. "
        f"Local media reported that police used tear gas against a peaceful sit-in.",
        f"The dispute over {issue} has deep roots. Community members say they were never "
        f"consulted, as required by international law, and that the decision was taken behind "
        f"closed doors with company representatives.",
        f"Human rights groups have documented arrests and intimidation of leaders. At least "
        f"{rng.randint(3, 60)} people have been detained since the start of the protests, and "
        f"lawyers say several of them have not been allowed to see their families.",
        "Solidarity messages have arrived from unions and movements across the region. "
        "A national day of action is planned for next week, and the coalition has called on "
        "supporters abroad to write to embassies.",
        f"{official.capitalize()} said in a statement that it was “open to dialogue” but that "
        f"order would be maintained. Negotiations are expected to resume on Monday.",
    ]
    count = rng.randint(4, len(sentences))
    return sentences[:count]


def generate(
    articles: int,
    *,
    topics: int = 60,
    authors: int = 12,
    seed: int = 1,
    now: datetime | None = None,
    years: int = 4,
) -> tuple[list[str], list[str], Iterator[DemoArticle]]:
    """Topic names, author names and a lazy stream of articles, newest last."""
    rng = random.Random(seed)
    now = now or timezone.now()
    names = topic_names(topics)
    weights = [1 / (rank + 1) for rank in range(len(names))]  # Zipf: the first topics dominate
    people = author_names(authors, rng)
    span = timedelta(days=365 * years)
    recent = min(8, max(1, articles // 20))

    def stream() -> Iterator[DemoArticle]:
        for index in range(articles):
            primary = rng.choices(names, weights)[0]
            chosen = [primary] + [
                name for name in rng.choices(names, weights, k=rng.randint(0, 2)) if name != primary
            ]
            place = primary if primary in PLACES else rng.choice(PLACES)
            group, issue = rng.choice(GROUPS), rng.choice(ISSUES)
            verb = rng.choice(ACTIONS)[1]
            title = f"{place}: {group.capitalize()} {verb} {issue}"
            if index >= articles - recent:
                published_at = now - timedelta(hours=rng.uniform(0.5, 22))
            else:
                published_at = now - span + span * (index / max(articles, 1)) - timedelta(days=1)
                published_at += timedelta(minutes=rng.randint(0, 600))
            body = "".join(f"<p>{text}</p>" for text in _paragraphs(rng, place, group, issue))
            if rng.random() < 0.2:
                body += "<blockquote><p>“Ni un paso atrás.”</p></blockquote>"
            article = DemoArticle(
                title=title,
                body=body,
                published_at=published_at,
                status=Article.Status.PUBLISHED,
                topics=list(dict.fromkeys(chosen)),
                authors=rng.sample(people, k=1 if rng.random() < 0.85 else 2),
            )
            if rng.random() < 0.2:
                outlet, base = rng.choice(OUTLETS)
                article.original_outlet = outlet
                # The partner's own address for the piece, in the WordPress style most use.
                original_slug = services.wanted_slug("", title)
                article.original_url = f"{base}/{published_at:%Y/%m}/{original_slug}/"
            if rng.random() < 0.1:
                article.editor_excerpt = f"{group.capitalize()} in {place} vow to keep organizing against {issue} until they are heard."
            yield article

    return names, people, stream()


@transaction.atomic
def create_demo_corpus(
    articles: int, *, topics: int = 60, authors: int = 12, seed: int = 1, batch_size: int = 2000
) -> int:
    """Write the demo corpus through publishing's bulk service. Returns the number of articles
    created."""
    names, people, stream = generate(articles, topics=topics, authors=authors, seed=seed)
    # Topics and authors through publishing's services (slugs settled there); ones a site
    # already has under the same name are kept.
    existing_topics = {topic.name: topic for topic in Topic.objects.filter(name__in=names)}
    services.save_topics(
        [
            Topic(
                name=name,
                is_featured=rank < 6,
                description=f"News and analysis from {name}.",
            )
            for rank, name in enumerate(names)
            if name not in existing_topics
        ]
    )
    topic_ids = dict(Topic.objects.filter(name__in=names).values_list("name", "pk"))
    existing_authors = set(Author.objects.filter(name__in=people).values_list("name", flat=True))
    for name in people:
        if name not in existing_authors:
            services.save_author(Author(name=name, bio=f"{name} reports on social movements."))
    author_ids = dict(Author.objects.filter(name__in=people).values_list("name", "pk"))

    created = 0
    batch: list[services.ArticleWrite] = []
    for item in stream:
        # No slug: publishing's slug service makes one from the title ('peru-...', then
        # 'peru-...-2' for the next article of the same title), as for the admin and imports.
        article = Article(
            title=item.title,
            body=item.body,
            editor_excerpt=item.editor_excerpt,
            status=item.status,
            published_at=item.published_at,
            created_at=item.published_at,
            original_outlet=item.original_outlet,
            original_url=item.original_url,
        )
        batch.append(
            services.ArticleWrite(
                article,
                author_ids=[author_ids[name] for name in item.authors],
                topic_ids=[topic_ids[name] for name in item.topics],
                # A corpus that looks lived-in: each article last changed when it came out.
                updated_at=item.published_at,
            )
        )
        if len(batch) >= batch_size:
            created += len(services.save_articles(batch))
            batch = []
    if batch:
        created += len(services.save_articles(batch))
    create_demo_menus(names[:5])
    return created


# The demo's footer: addresses on this site (other apps' pages, named by path: publishing
# imports none of them). Pages (About, Contact) join once they exist.
DEMO_FOOTER = [("Donate", "/donate/"), ("Daily Digest archive", "/digest/archive/")]


def create_demo_menus(topic_names: list[str]) -> None:
    """A header menu (the biggest topics, in the order of their size rather than by name, then
    every topic) and a footer menu, when the site has none yet."""
    if MenuItem.objects.exists():
        return
    header = Menu.objects.get_or_create(location=Menu.Location.HEADER)[0]
    footer = Menu.objects.get_or_create(location=Menu.Location.FOOTER)[0]
    topics = {topic.name: topic for topic in Topic.objects.filter(name__in=topic_names)}
    header_items = [
        MenuItem(menu=header, topic=topics[name]) for name in topic_names if name in topics
    ]
    header_items.append(MenuItem(menu=header, label="All topics", url="/topics/"))
    footer_items = [MenuItem(menu=footer, label=label, url=url) for label, url in DEMO_FOOTER]
    for items in (header_items, footer_items):
        for position, item in enumerate(items, start=1):
            item.position = position
            item.full_clean()
    MenuItem.objects.bulk_create([*header_items, *footer_items])
    services.announce_change()
