"""What other fediverse servers ask us: WebFinger, NodeInfo, actor documents, outboxes,
follower counts, article objects, and the inboxes they post activities to.

Every refusal is a 4xx with a JSON `error` line; an inbox answers 202 to what it accepts or
ignores. Incoming bodies are bounded (FEDERATION_MAX_BODY_BYTES) before they are read."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from pressroom.federation import documents, services, signatures
from pressroom.federation.models import SITE_ACTOR, FederatedArticle, Follower, topic_actor
from pressroom.publishing.models import Article, Topic
from pressroom.site.current import read_site

MAX_RESOURCE = 300
MAX_PAGE = 10_000
ACCEPTED_TYPES = ("application/activity+json", "application/ld+json", "application/json")
PAGE_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only ("²".isdigit() is true)
# Topic slugs may be in any script ("perú"): the handle is the slug, so any word character.
USERNAME = re.compile(r"\w[\w.\-]{0,199}")


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def wants_activity_json(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/activity+json" in accept or "application/ld+json" in accept


def activity_response(
    request: HttpRequest, document: dict[str, Any], status: int = 200
) -> HttpResponse:
    """The document as application/activity+json, or as ld+json when that is what was asked."""
    accept = request.META.get("HTTP_ACCEPT", "")
    kind = (
        signatures.LD_JSON
        if "application/ld+json" in accept and "application/activity+json" not in accept
        else signatures.ACTIVITY_JSON
    )
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False), content_type=kind, status=status
    )
    # The same address gives readers HTML: shared caches must key on Accept (and the page
    # cache then leaves these alone).
    patch_vary_headers(response, ["Accept"])
    return response


def negotiated(request: HttpRequest, document: Any, page: str) -> HttpResponse:
    if wants_activity_json(request):
        return activity_response(request, document() if callable(document) else document)
    response = HttpResponseRedirect(page)
    patch_vary_headers(response, ["Accept"])
    return response


# Discovery


@require_GET
def webfinger(request: HttpRequest) -> HttpResponse:
    resource = request.GET.get("resource", "")
    if not resource or len(resource) > MAX_RESOURCE:
        return error(f"resource is required (at most {MAX_RESOURCE} characters)", 400)
    name: str | None = None
    topic: Topic | None = None
    if resource.startswith(("http://", "https://")):
        found = services.actor_name_for(resource)
        if found is not None:
            name, topic = found
    else:
        account = resource.removeprefix("acct:").removeprefix("@")
        username, _, domain = account.rpartition("@")
        if domain.lower() == documents.host() and USERNAME.fullmatch(username):
            if username.lower() == settings.FEDERATION_USERNAME.lower():
                name = SITE_ACTOR
            else:
                topic = Topic.objects.filter(slug=username).first()
                if topic is None and username.lower().removeprefix("topic-") == (
                    settings.FEDERATION_USERNAME.lower()
                ):
                    # The topic whose slug is the site's handle (documents.topic_username).
                    topic = Topic.objects.filter(slug__iexact=settings.FEDERATION_USERNAME).first()
                name = topic_actor(topic.pk) if topic else None
    if name is None:
        return error(f"no actor {resource[:100]} here", 404)
    username = settings.FEDERATION_USERNAME if topic is None else documents.topic_username(topic)
    url = documents.actor_url(name)
    page = settings.SITE_URL + ("/" if topic is None else topic.get_absolute_url())
    response = JsonResponse(
        {
            "subject": f"acct:{username}@{documents.host()}",
            "aliases": [url, page],
            "links": [
                {"rel": "self", "type": signatures.ACTIVITY_JSON, "href": url},
                {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": page},
            ],
        },
        content_type="application/jrd+json",
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def nodeinfo_links(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {
            "links": [
                {
                    "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                    "href": f"{settings.SITE_URL}/nodeinfo/2.1",
                }
            ]
        }
    )


@require_GET
def nodeinfo(request: HttpRequest) -> HttpResponse:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("pressroom")
    except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
        release = "0"
    return JsonResponse(
        {
            "version": "2.1",
            "software": {"name": "pressroom", "version": release},
            "protocols": ["activitypub"],
            "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
            "openRegistrations": False,
            "usage": {
                "users": {"total": 1 + Topic.objects.count()},
                "localPosts": Article.objects.published().count(),
            },
            "metadata": {"nodeName": read_site().name},
        },
        content_type='application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
    )


# Actors and their collections


def _actor(topic_id: int | None) -> tuple[str, Topic | None] | None:
    if topic_id is None:
        return SITE_ACTOR, None
    topic = Topic.objects.filter(pk=topic_id).first()
    return (topic_actor(topic.pk), topic) if topic else None


@require_GET
def actor(request: HttpRequest, topic_id: int | None = None) -> HttpResponse:
    found = _actor(topic_id)
    if found is None:
        return error("no such actor", 404)
    name, topic = found
    page = "/" if topic is None else topic.get_absolute_url()
    return negotiated(request, lambda: documents.actor_document(name, topic), page)


@require_GET
def followers(request: HttpRequest, topic_id: int | None = None) -> HttpResponse:
    """How many follow: a count, never the list of people."""
    found = _actor(topic_id)
    if found is None:
        return error("no such actor", 404)
    url = documents.actor_url(found[0]) + "/followers"
    return activity_response(
        request,
        {
            "@context": documents.CONTEXT[0],
            "id": url,
            "type": "OrderedCollection",
            "totalItems": Follower.objects.filter(followed=found[0]).count(),
        },
    )


@require_GET
def outbox(request: HttpRequest, topic_id: int | None = None) -> HttpResponse:
    """Create activities of the newest articles, OUTBOX_PAGE_SIZE a page (?page=1, 2, ...)."""
    found = _actor(topic_id)
    if found is None:
        return error("no such actor", 404)
    name, topic = found
    articles = Article.objects.published()
    if topic is not None:
        articles = articles.for_topic(topic)
    url = documents.actor_url(name) + "/outbox"
    raw_page = request.GET.get("page", "")
    if not raw_page:
        total = articles.count()
        return activity_response(
            request,
            {
                "@context": documents.CONTEXT[0],
                "id": url,
                "type": "OrderedCollection",
                "totalItems": total,
                "first": f"{url}?page=1",
                "last": f"{url}?page={max(1, -(-total // documents.OUTBOX_PAGE_SIZE))}",
            },
        )
    if not PAGE_NUMBER.fullmatch(raw_page) or not 1 <= int(raw_page) <= MAX_PAGE:
        return error(f"page is a number from 1 to {MAX_PAGE}", 400)
    number = int(raw_page)
    size = documents.OUTBOX_PAGE_SIZE
    chosen = documents.articles_for_objects(
        articles.newest_first()[(number - 1) * size : number * size + 1]
    )
    items = [documents.create_for_outbox(documents.article_object(a)) for a in chosen[:size]]
    page: dict[str, Any] = {
        "@context": documents.CONTEXT[0],
        "id": f"{url}?page={number}",
        "type": "OrderedCollectionPage",
        "partOf": url,
        "orderedItems": items,
    }
    if len(chosen) > size:
        page["next"] = f"{url}?page={number + 1}"
    if number > 1:
        page["prev"] = f"{url}?page={number - 1}"
    return activity_response(request, page)


@require_GET
def article_object(request: HttpRequest, article_id: int) -> HttpResponse:
    """An article as an ActivityPub object (what an Announce points to); a Tombstone (410)
    once it was taken down."""
    found = documents.articles_for_objects(Article.objects.published().filter(pk=article_id))
    if found:
        document = {"@context": documents.CONTEXT[0], **documents.article_object(found[0])}
        return negotiated(request, document, found[0].get_absolute_url())
    if FederatedArticle.objects.filter(article_id=article_id).exists():
        return activity_response(
            request, {"@context": documents.CONTEXT[0], **documents.tombstone(article_id)}, 410
        )
    return error("no such article", 404)


# Inboxes


def _read_body(request: HttpRequest) -> bytes | HttpResponse:
    """The body, or the refusal: too large (413, told by Content-Length before reading it, or
    found while reading at most one byte more than the bound), wrong type (415)."""
    limit = settings.FEDERATION_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        return error("Content-Length is not a number", 400)
    if int(declared) > limit:
        return error(f"the body is larger than {limit} bytes", 413)
    kind = request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if kind not in ACCEPTED_TYPES:
        return error("send application/activity+json", 415)
    body = request.read(limit + 1)
    if len(body) > limit:
        return error(f"the body is larger than {limit} bytes", 413)
    return body


@csrf_exempt
@require_POST
def inbox(request: HttpRequest, topic_id: int | None = None, shared: bool = False) -> HttpResponse:
    """Follow (auto-Accept), Undo of a Follow, Delete of a remote actor; anything else is
    accepted and ignored (202)."""
    if topic_id is not None and _actor(topic_id) is None:
        return error("no such actor", 404)
    body = _read_body(request)
    if isinstance(body, HttpResponse):
        return body
    try:
        message = signatures.parse_json(body)
    except ValueError as refusal:
        return error(f"the body is {refusal}", 400)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return error("the body is not an activity (a JSON object with a type)", 400)
    claimed = message.get("actor")
    claimed = claimed.get("id") if isinstance(claimed, dict) else claimed
    if not isinstance(claimed, str) or not claimed.startswith(("https://", "http://")):
        return error("the activity has no actor", 400)
    if signatures.is_blocked(claimed):
        return error(f"{signatures.domain_of(claimed)} is blocked here", 403)
    try:
        verified = signatures.verify_request(request, body)
    except signatures.SignatureError as refusal:
        if not (
            message.get("type") == "Delete" and message.get("object") in (claimed, {"id": claimed})
        ):
            return error(str(refusal), refusal.status)
        kept = _verify_with_kept_key(request, body, claimed)
        if kept is None:
            return error(str(refusal), refusal.status)
        verified = kept
    if verified.actor != claimed:
        return error("the activity's actor is not the key's owner", 401)
    services.revive_instance(signatures.domain_of(claimed))
    return _act(message, verified.key, topic_id, shared)


def _verify_with_kept_key(
    request: HttpRequest, body: bytes, claimed: str
) -> signatures.Verified | None:
    """A deleted actor's server no longer serves its key: its Delete is checked with the key
    we kept when it followed us."""
    kept = Follower.objects.filter(actor_url=claimed).exclude(public_key_pem="").first()
    if kept is None:
        return None
    from django.core.cache import cache

    key = signatures.RemoteKey(claimed + "#main-key", claimed, kept.public_key_pem)
    parameters = dict(signatures.CAVAGE_PARAMETER.findall(request.META.get("HTTP_SIGNATURE", "")))
    key_id = parameters.get("keyId", "")
    if not signatures.same_origin(key_id, claimed):
        return None
    cache.set(signatures._cache_key(key_id), {**key.__dict__, "key_id": key_id}, 60)
    try:
        return signatures.verify_request(request, body)
    except signatures.SignatureError:
        return None
    finally:
        cache.delete(signatures._cache_key(key_id))


def _act(
    message: dict[str, Any], key: signatures.RemoteKey, topic_id: int | None, shared: bool
) -> HttpResponse:
    kind = message["type"]
    obj = message.get("object")
    if kind == "Follow":
        target = obj.get("id") if isinstance(obj, dict) else obj
        found = services.actor_name_for(target) if isinstance(target, str) else None
        expected = documents.actor_url(SITE_ACTOR if topic_id is None else topic_actor(topic_id))
        if found is None or (target != expected and not shared):
            return error("the Follow is not for an actor of this inbox", 404)
        services.accept_follow(key, message, found[0], found[1])
    elif kind == "Undo" and (
        (isinstance(obj, dict) and obj.get("type") == "Follow") or isinstance(obj, str)
    ):
        services.undo_follow(key.owner, obj)
    elif kind == "Delete" and (
        obj == key.owner or (isinstance(obj, dict) and obj.get("id") == key.owner)
    ):
        services.drop_remote_actor(key.owner)
    return HttpResponse(status=202)
