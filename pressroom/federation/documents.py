"""The JSON documents of our actors, objects and activities (ActivityStreams 2.0), and the
addresses they live at. Every id is absolute, under SITE_URL."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from pressroom.federation.models import SITE_ACTOR, ActorKey, topic_actor
from pressroom.media.rendering import image_file
from pressroom.publishing.feeds import (
    FEED_IMAGE_PRESET,
    FEED_PREFETCH,
    corrections_html,
    with_feed_bodies,
)
from pressroom.publishing.models import Article, Topic
from pressroom.site.current import read_site

CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
OUTBOX_PAGE_SIZE = 20


def host() -> str:
    """The host of SITE_URL with its port when it has one: the @domain of our handles."""
    return urlsplit(settings.SITE_URL).netloc.lower()


def handle(username: str) -> str:
    return f"@{username}@{host()}"


def actor_url(name: str) -> str:
    if name == SITE_ACTOR:
        return f"{settings.SITE_URL}/fediverse/actor"
    return f"{settings.SITE_URL}/fediverse/topics/{name.removeprefix('topic-')}"


def key_id(name: str) -> str:
    return actor_url(name) + "#main-key"


def shared_inbox_url() -> str:
    return f"{settings.SITE_URL}/fediverse/inbox"


def object_url(article_id: int) -> str:
    return f"{settings.SITE_URL}/fediverse/articles/{article_id}"


def activity_url(activity_id: object) -> str:
    return f"{settings.SITE_URL}/fediverse/activities/{activity_id}"


def hashtag(topic: Topic) -> dict[str, str]:
    # Hashtags are one word: "Climate change" becomes #ClimateChange.
    words = re.findall(r"\w+", topic.name)
    name = "".join(word[:1].upper() + word[1:] for word in words) or topic.slug
    return {
        "type": "Hashtag",
        "href": settings.SITE_URL + topic.get_absolute_url(),
        "name": f"#{name}",
    }


def topic_username(topic: Topic) -> str:
    """A topic's handle is its slug; "topic-<slug>" when the slug is the site's own handle
    (FEDERATION_USERNAME), which WebFinger gives to the site."""
    if topic.slug.lower() == settings.FEDERATION_USERNAME.lower():
        return f"topic-{topic.slug}"
    return topic.slug


def actor_document(name: str, topic: Topic | None = None) -> dict[str, Any]:
    """The site's actor (name, summary and icon from the site settings), or a topic's."""
    site = read_site()
    url = actor_url(name)
    key = ActorKey.for_actor(name)
    if topic is None:
        username, display, summary, page = (
            settings.FEDERATION_USERNAME,
            site.name,
            site.tagline,
            "/",
        )
        kind = "Service"
    else:
        username = topic_username(topic)
        display = f"{topic.name} — {site.name}"
        summary = topic.description or site.tagline
        page, kind = topic.get_absolute_url(), "Group"
    icon = site.icons.get("512", "")
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": url,
        "type": kind,
        "preferredUsername": username,
        "name": display,
        "summary": summary,
        "url": settings.SITE_URL + page,
        "inbox": url + "/inbox",
        "outbox": url + "/outbox",
        "followers": url + "/followers",
        "endpoints": {"sharedInbox": shared_inbox_url()},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "publicKey": {"id": key_id(name), "owner": url, "publicKeyPem": key.public_key_pem},
    }
    if icon:
        document["icon"] = {
            "type": "Image",
            "mediaType": "image/png",
            "url": icon if urlsplit(icon).scheme else settings.SITE_URL + icon,
        }
    if site.logo is not None:
        logo = site.logo.url
        document["image"] = {
            "type": "Image",
            "url": logo if urlsplit(logo).scheme else settings.SITE_URL + logo,
        }
    return document


def articles_for_objects(queryset: Any) -> list[Article]:
    """Articles with what their objects show (bodies as feeds carry them, topics, images)."""
    return with_feed_bodies(list(queryset.with_corrections().prefetch_related(*FEED_PREFETCH)))


def _time(value: Any) -> str:
    return timezone.localtime(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def article_object(article: Article) -> dict[str, Any]:
    """An Article object: title, summary, link, content (cleaned as the feeds carry it), lead
    image, hashtags of its topics; from the site's actor, public, to its followers."""
    topics = article.shown_topics
    document: dict[str, Any] = {
        "id": object_url(article.pk),
        "type": "Article",
        "name": article.title,
        "summary": article.excerpt,
        "content": getattr(article, "feed_body", article.body)
        + corrections_html(article.shown_corrections),
        "mediaType": "text/html",
        "url": settings.SITE_URL + article.get_absolute_url(),
        "attributedTo": actor_url(SITE_ACTOR),
        "published": _time(article.published_at),
        "sensitive": False,
        "to": [PUBLIC],
        "cc": [actor_url(SITE_ACTOR) + "/followers"]
        + [actor_url(topic_actor(topic.pk)) + "/followers" for topic in topics],
        "tag": [hashtag(topic) for topic in topics],
    }
    image = image_file(article.lead_image, FEED_IMAGE_PRESET)
    if image is not None:
        document["image"] = {
            "type": "Image",
            "url": image.url,
            "mediaType": image.mime_type,
            "width": image.width,
            "height": image.height,
            "name": article.lead_image_alt or getattr(article.lead_image, "alt_text", ""),
        }
    elif article.lead_image_url:
        document["image"] = {"type": "Image", "url": article.lead_image_url}
    return document


def content_hash(document: dict[str, Any]) -> str:
    """What makes an Update: any change to what followers see of the article."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def with_update_time(document: dict[str, Any], article: Article) -> dict[str, Any]:
    return {**document, "updated": _time(article.updated_at)}


def tombstone(article_id: int) -> dict[str, Any]:
    return {"id": object_url(article_id), "type": "Tombstone", "formerType": "Article"}


def activity(
    kind: str, activity_id: object, actor: str, obj: Any, *, to: list[str], cc: list[str]
) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "id": activity_url(activity_id),
        "type": kind,
        "actor": actor_url(actor),
        "published": _time(timezone.now()),
        "to": to,
        "cc": cc,
        "object": obj,
    }


def create_for_outbox(document: dict[str, Any]) -> dict[str, Any]:
    """An article's Create as the outbox lists it (its id derived from the object's)."""
    return {
        "id": document["id"] + "#create",
        "type": "Create",
        "actor": document["attributedTo"],
        "published": document["published"],
        "to": document["to"],
        "cc": document["cc"],
        "object": document,
    }
