"""HTTP Signatures: signing what we deliver, verifying what other servers post to our inboxes.

Outgoing requests are signed as Mastodon verifies them: draft-cavage-http-signatures-12,
`rsa-sha256` over `(request-target) host date digest` (every fediverse server reads it).
Incoming requests may be signed that way or with RFC 9421 (`Signature-Input` + `Signature`,
`rsa-v1_5-sha256`, `rsa-pss-sha512` or `ed25519`). Either way the body's digest (`Digest` or
`Content-Digest`) is checked, the date (or `created`) must be within FEDERATION_SIGNATURE_MAX_AGE
seconds, a signature already seen in that window is refused (replay), and the key is fetched
through the outbound helper (pressroom.lib.outbound) and cached; a signature that fails with the
cached key is tried once more with a fresh copy (the remote server rotated its key).

Built on `cryptography` (RSA and Ed25519) and `http-sf` (RFC 8941 structured fields, which RFC
9421's headers are): the signature bases are short and written here, so that both dialects share
one key cache and one set of refusals.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from http_sf.innerlist import ser_innerlist

from pressroom.lib import outbound

ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
# Bounds on what a remote server may send us: headers, key documents, URLs.
MAX_SIGNATURE_HEADER = 8 * 1024
MAX_KEY_DOCUMENT_BYTES = 512 * 1024
MAX_URL_LENGTH = 500
# Keys are fetched while a remote server waits for our answer: a short deadline, a failure
# remembered for a minute, and at most one refetch of a key a minute (a bad signature must not
# make us fetch again and again).
KEY_FETCH_TIMEOUT = 5.0
KEY_FAILURE_SECONDS = 60
KEY_REFETCH_SECONDS = 60
# Deeper JSON than this is refused: no activity nests so deep, and Python's parser would
# otherwise run out of stack.
MAX_JSON_DEPTH = 64
KEY_DOCUMENT_TYPES = ("application/activity+json", "application/ld+json", "application/json")
CAVAGE_REQUIRED = ("(request-target)", "host", "date")
CAVAGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


class SignatureError(Exception):
    """A request whose signature we refuse; `status` is the answer (401, 403), the message
    says why in one line."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteKey:
    key_id: str
    owner: str  # the actor that holds the key
    pem: str
    inbox: str = ""
    shared_inbox: str = ""

    def public_key(self) -> Any:
        try:
            return serialization.load_pem_public_key(self.pem.encode())
        except (ValueError, TypeError):
            raise SignatureError(
                f"the key {self.key_id[:200]} is not a readable public key"
            ) from None


@dataclass(frozen=True)
class Verified:
    """Who signed an incoming request."""

    key: RemoteKey

    @property
    def actor(self) -> str:
        return self.key.owner


# Keys: ours are made with the actor (models.ActorKey), RSA-2048 as Mastodon expects.


def new_private_key_pem() -> tuple[str, str]:
    """(private, public) PEM of a new RSA-2048 key pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def body_digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


@functools.lru_cache(maxsize=64)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    """Our actor's key, loaded once per process: loading checks the RSA key's primes, which
    costs tens of milliseconds, many times what signing one delivery does. The key is ours
    (made by new_private_key_pem), so the check is skipped."""
    key = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def signed_headers(
    method: str, url: str, body: bytes, *, key_id: str, private_key_pem: str
) -> dict[str, str]:
    """The headers of a request signed as Mastodon verifies it (draft-cavage, rsa-sha256)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc,
        "Date": formatdate(usegmt=True),
        "Digest": body_digest(body),
        "Content-Type": ACTIVITY_JSON,
    }
    signed = ("(request-target)", "host", "date", "digest")
    text = "\n".join(
        f"(request-target): {method.lower()} {target}"
        if name == "(request-target)"
        else f"{name}: {headers[name.title()]}"
        for name in signed
    )
    key = _private_key(private_key_pem)
    signature = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(signed)}",'
        f'signature="{signature.decode()}"'
    )
    return headers


# Remote keys


def normal_host(host: str) -> str:
    """One spelling per host name: lower case, ASCII (IDNA), no trailing dot; so that
    "EVIL.example." and "bücher.example" match the blocked "evil.example" and
    "xn--bcher-kva.example"."""
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host


def domain_of(url: str) -> str:
    """The host of `url` (normal_host), with its port when it has one ("" when none)."""
    try:
        parts = urlsplit(url)
        host = normal_host(parts.hostname or "")
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""


def origin_of(url: str) -> str:
    """scheme://host:port of `url` ("" when it has none): what two addresses must share to be
    held by the same server (an http address is not the https server of the same name)."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        return ""
    host = normal_host(parts.hostname or "")
    return f"{scheme}://{host}:{port}" if scheme in ("http", "https") and host else ""


def same_origin(first: str, second: str) -> bool:
    return origin_of(first) != "" and origin_of(first) == origin_of(second)


def is_blocked(url_or_domain: str) -> bool:
    """On FEDERATION_BLOCKED_DOMAINS, itself or as a subdomain of one."""
    if "/" in url_or_domain:
        domain = domain_of(url_or_domain)
    else:
        name, _, port = url_or_domain.partition(":")
        domain = normal_host(name) + (f":{port}" if port else "")
    host = domain.split(":", 1)[0]
    for entry in settings.FEDERATION_BLOCKED_DOMAINS:
        name, _, port = entry.partition(":")
        blocked = normal_host(name) + (f":{port}" if port else "")
        if host == blocked or host.endswith("." + blocked) or domain == blocked:
            return True
    return False


def parse_json(data: bytes | str) -> Any:
    """JSON from another server, as Python; ValueError when it is not JSON, nests deeper than
    MAX_JSON_DEPTH, or holds a string no database keeps (a NUL, a lone surrogate)."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("not JSON (or nested too deep)") from None
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise ValueError("a JSON string holds a NUL character")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a JSON string holds a lone surrogate") from None
    return value


def _cache_key(key_id: str) -> str:
    return "federation:key:" + hashlib.sha256(key_id.encode()).hexdigest()


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def fetch_json(url: str) -> dict[str, Any]:
    """The ActivityPub document at `url`, fetched through the outbound helper; OutboundError or
    ValueError when it cannot be had. No redirect is followed and the document must say it is
    the one at `url` (its `id`): a server cannot hand us a document found elsewhere, as an
    upload of a user's (Mastodon's CVE-2024-23832)."""
    response = outbound.fetch(
        url,
        headers={"Accept": f"{ACTIVITY_JSON}, {LD_JSON}"},
        max_bytes=MAX_KEY_DOCUMENT_BYTES,
        total_timeout=KEY_FETCH_TIMEOUT,
        max_redirects=0,
        retries=0,
    )
    if not response.ok:
        raise ValueError(f"{domain_of(url)} answered {response.status} for {url[:200]}")
    kind = str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    if kind not in KEY_DOCUMENT_TYPES:
        raise ValueError(f"{url[:200]} is not served as ActivityPub JSON ({kind[:60]!r})")
    try:
        document = parse_json(response.content)
    except ValueError as error:
        raise ValueError(f"{url[:200]} is {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{url[:200]} is not a JSON object")
    if not isinstance(document.get("id"), str) or _without_fragment(
        document["id"]
    ) != _without_fragment(url):
        raise ValueError(f"the document at {url[:200]} does not say it is that document (id)")
    return document


def _text(value: object) -> str:
    return value[:MAX_URL_LENGTH] if isinstance(value, str) else ""


def _key_from_document(key_id: str, document: dict[str, Any], *, exact: bool = False) -> RemoteKey:
    """The key `key_id` from an actor document (publicKey, or an Ed25519 Multikey under
    assertionMethod) or from a key document (publicKeyPem + owner). `exact`: only a key whose
    id is `key_id`."""
    candidates: list[dict[str, Any]] = []
    for field in ("publicKey", "assertionMethod"):
        found = document.get(field)
        candidates.extend(
            item
            for item in (found if isinstance(found, list) else [found])
            if isinstance(item, dict)
        )
    if "publicKeyPem" in document:
        candidates.append(document)
    for candidate in candidates:
        identity = candidate.get("id")
        if identity != key_id and (exact or (identity is not None and len(candidates) > 1)):
            continue
        pem = candidate.get("publicKeyPem")
        if not isinstance(pem, str) and isinstance(candidate.get("publicKeyMultibase"), str):
            pem = _multikey_pem(candidate["publicKeyMultibase"])
        if not isinstance(pem, str):
            continue
        owner = _text(candidate.get("owner") or candidate.get("controller") or document.get("id"))
        endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
        return RemoteKey(
            key_id=key_id,
            owner=owner,
            pem=pem[:10_000],
            inbox=_text(document.get("inbox")),
            shared_inbox=_text((endpoints or {}).get("sharedInbox")),
        )
    raise ValueError(f"no public key {key_id[:200]} in the document")


BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _multikey_pem(multibase: str) -> str | None:
    """An Ed25519 Multikey (FEP-521a: "z" + base58btc of 0xed01 and the 32 key bytes) as PEM."""
    if not multibase.startswith("z") or len(multibase) > 100:
        return None
    number = 0
    for character in multibase[1:]:
        if character not in BASE58:
            return None
        number = number * 58 + BASE58.index(character)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        return None
    key = ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _fetch_key(key_id: str) -> RemoteKey:
    document = fetch_json(_without_fragment(key_id))
    key = _key_from_document(key_id, document)
    if not key.owner or not same_origin(key.owner, key_id):
        raise SignatureError(f"the key {key_id[:200]} is not held by an actor of its own server")
    if key.owner != document["id"]:
        # A key document naming its owner: the owner's actor document must list this key, or
        # any document could claim any actor of its server.
        try:
            listed = _key_from_document(key_id, fetch_json(key.owner), exact=True)
        except ValueError:
            listed = None
        if listed is None or listed.pem != key.pem:
            raise SignatureError(
                f"the actor {key.owner[:200]} does not list the key {key_id[:200]}"
            )
        key = RemoteKey(key_id, key.owner, key.pem, listed.inbox, listed.shared_inbox)
    # Deliveries go where the actor says, but only to its own server (a sharedInbox elsewhere
    # would aim our deliveries, and the dead-instance bookkeeping, at someone else).
    return RemoteKey(
        key_id=key_id,
        owner=key.owner,
        pem=key.pem,
        inbox=key.inbox if same_origin(key.inbox, key.owner) else "",
        shared_inbox=key.shared_inbox if same_origin(key.shared_inbox, key.owner) else "",
    )


def remote_key(key_id: str, *, fresh: bool = False) -> RemoteKey:
    """The key `key_id` names, from the cache or fetched (then kept FEDERATION_KEY_CACHE_SECONDS).
    A failed fetch is remembered KEY_FAILURE_SECONDS; `fresh` refetches a key at most once in
    KEY_REFETCH_SECONDS (otherwise the cached key is returned)."""
    kept = cache.get(_cache_key(key_id))
    if kept is not None and (
        not fresh or not cache.add(_cache_key(key_id) + ":refetched", 1, KEY_REFETCH_SECONDS)
    ):
        return RemoteKey(**kept)
    failure = cache.get(_cache_key(key_id) + ":failed")
    if failure is not None:
        raise SignatureError(failure)
    try:
        key = _fetch_key(key_id)
    except (outbound.OutboundError, ValueError, SignatureError) as error:
        message = (
            str(error)
            if isinstance(error, SignatureError)
            else f"cannot fetch the key {key_id[:200]}: {error}"
        )
        cache.set(_cache_key(key_id) + ":failed", message, KEY_FAILURE_SECONDS)
        raise SignatureError(message) from None
    cache.set(_cache_key(key_id), key.__dict__, settings.FEDERATION_KEY_CACHE_SECONDS)
    return key


# Verifying incoming requests


def _check_time(when: float) -> None:
    age = time.time() - when
    window = settings.FEDERATION_SIGNATURE_MAX_AGE
    if age > window:
        raise SignatureError(f"the signature is older than {window} seconds (a replay?)")
    if age < -60:
        raise SignatureError("the signature is dated in the future")


def _refuse_replay(signature: bytes) -> None:
    """Each signature counts once in its window: a copy posted again is refused."""
    seen = "federation:seen:" + hashlib.sha256(signature).hexdigest()
    if not cache.add(seen, 1, timeout=2 * settings.FEDERATION_SIGNATURE_MAX_AGE + 60):
        raise SignatureError("this signature was already used (a replay)")


def _verify_with(key: Any, signature: bytes, text: bytes, algorithm: str) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm in (
            "rsa-sha256",
            "rsa-v1_5-sha256",
            "hs2019",
            "",
        ):
            key.verify(signature, text, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, rsa.RSAPublicKey) and algorithm == "rsa-pss-sha512":
            key.verify(
                signature,
                text,
                padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
                hashes.SHA512(),
            )
        elif isinstance(key, ed25519.Ed25519PublicKey) and algorithm in ("ed25519", "hs2019", ""):
            key.verify(signature, text)
        else:
            raise SignatureError(f"the algorithm {algorithm[:40]!r} does not fit the key")
    except InvalidSignature:
        return False
    return True


def _verify_key(key_id: str, signature: bytes, text: bytes, algorithm: str) -> RemoteKey:
    """The key that made `signature`; refetched once when the cached one does not fit."""
    if len(key_id) > MAX_URL_LENGTH or not key_id.startswith(("https://", "http://")):
        raise SignatureError("the keyId is not an http(s) address of at most 500 characters")
    if not key_id.startswith("https://") and not settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES:
        raise SignatureError("the keyId must be an https address")
    if is_blocked(key_id):
        raise SignatureError(f"{domain_of(key_id)} is blocked here", status=403)
    key = remote_key(key_id)
    if _verify_with(key.public_key(), signature, text, algorithm):
        return key
    fresh = remote_key(key_id, fresh=True)
    if fresh != key and _verify_with(fresh.public_key(), signature, text, algorithm):
        return fresh
    raise SignatureError("the signature does not match the request")


def _header(request: HttpRequest, name: str) -> str:
    if name == "host":
        return request.get_host()
    if name == "content-type":
        return request.META.get("CONTENT_TYPE", "")
    if name == "content-length":
        return request.META.get("CONTENT_LENGTH", "")
    value = request.META.get("HTTP_" + name.upper().replace("-", "_"))
    if value is None:
        raise SignatureError(f"the signed header {name[:40]!r} is missing")
    return value


def _check_digest(request: HttpRequest, body: bytes, *, required: bool) -> None:
    digest = request.META.get("HTTP_DIGEST", "")
    content_digest = request.META.get("HTTP_CONTENT_DIGEST", "")
    if content_digest:
        try:
            members: Any = http_sf.parse(content_digest.encode(), tltype="dictionary")
        except (http_sf.StructuredFieldError, ValueError):
            raise SignatureError("the Content-Digest header cannot be read") from None
        algorithms = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
        known = [name for name in members if name in algorithms]
        if not known:
            raise SignatureError("the Content-Digest uses no algorithm we know (sha-256, sha-512)")
        for name in known:
            if members[name][0] != algorithms[name](body).digest():
                raise SignatureError("the Content-Digest does not match the body")
    if digest:
        found = {
            part.split("=", 1)[0].strip().upper(): part.split("=", 1)[1].strip()
            for part in digest.split(",")
            if "=" in part
        }
        if "SHA-256" not in found:
            raise SignatureError("the Digest header has no SHA-256 value")
        if found["SHA-256"] != body_digest(body).split("=", 1)[1]:
            raise SignatureError("the Digest does not match the body")
    if required and not (digest or content_digest):
        raise SignatureError("a body must be signed with its Digest or Content-Digest")


def verify_request(request: HttpRequest, body: bytes) -> Verified:
    """Who signed `request` (cavage or RFC 9421); SignatureError when we refuse it."""
    if request.META.get("HTTP_SIGNATURE_INPUT"):
        return _verify_rfc9421(request, body)
    header = request.META.get("HTTP_SIGNATURE", "")
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if not header and authorization.startswith("Signature "):
        header = authorization.removeprefix("Signature ")
    if not header:
        raise SignatureError("the request is not signed (no Signature header)")
    return _verify_cavage(request, body, header)


def _verify_cavage(request: HttpRequest, body: bytes, header: str) -> Verified:
    if len(header) > MAX_SIGNATURE_HEADER:
        raise SignatureError("the Signature header is too long")
    parameters = dict(CAVAGE_PARAMETER.findall(header))
    key_id = parameters.get("keyId", "")
    covered = parameters.get("headers", "date").lower().split()
    try:
        signature = base64.b64decode(parameters.get("signature", ""), validate=True)
    except ValueError:
        raise SignatureError("the signature is not base64") from None
    if not key_id or not signature:
        raise SignatureError("the Signature header lacks a keyId or a signature")
    missing = [name for name in CAVAGE_REQUIRED if name not in covered]
    if body and "digest" not in covered:
        missing.append("digest")
    if missing:
        raise SignatureError(f"the signature must cover {', '.join(missing)}")
    try:
        _check_time(parsedate_to_datetime(_header(request, "date")).timestamp())
    except (TypeError, ValueError, IndexError):
        raise SignatureError("the Date header cannot be read") from None
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {request.method.lower()} {request.get_full_path()}")  # type: ignore[union-attr]
        elif name in ("(created)", "(expires)"):
            value = parameters.get(name.strip("()"), "")
            lines.append(f"{name}: {value}")
        else:
            lines.append(f"{name}: {_header(request, name)}")
    _check_digest(request, body, required=bool(body))
    key = _verify_key(
        key_id, signature, "\n".join(lines).encode(), parameters.get("algorithm", "").lower()
    )
    _refuse_replay(signature)
    return Verified(key)


def _component(request: HttpRequest, name: str, parameters: dict[str, Any]) -> str:
    if parameters:
        raise SignatureError(f"the component parameters of {name[:40]!r} are not supported")
    if name == "@method":
        return request.method or ""
    if name == "@target-uri":
        return request.build_absolute_uri()
    if name == "@authority":
        return request.get_host().lower()
    if name == "@scheme":
        return request.scheme or ""
    if name == "@path":
        return request.path
    if name == "@query":
        query = request.META.get("QUERY_STRING", "")
        return f"?{query}"
    if name == "@request-target":
        return request.get_full_path()
    if name.startswith("@"):
        raise SignatureError(f"the component {name[:40]!r} is not supported")
    return _header(request, name).strip()


def _verify_rfc9421(request: HttpRequest, body: bytes) -> Verified:
    raw_input = request.META.get("HTTP_SIGNATURE_INPUT", "")
    raw_signature = request.META.get("HTTP_SIGNATURE", "")
    if len(raw_input) > MAX_SIGNATURE_HEADER or len(raw_signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError("the signature headers are too long")
    try:
        inputs: Any = http_sf.parse(raw_input.encode(), tltype="dictionary")
        signatures: Any = http_sf.parse(raw_signature.encode(), tltype="dictionary")
    except (http_sf.StructuredFieldError, ValueError, UnicodeEncodeError):
        raise SignatureError("the Signature-Input or Signature header cannot be read") from None
    labels = [label for label in inputs if label in signatures]
    if not labels:
        raise SignatureError("no signature in Signature matches the Signature-Input")
    label = labels[0]
    covered_list, parameters = inputs[label]
    signature = signatures[label][0]
    if not isinstance(covered_list, list) or not isinstance(signature, bytes):
        raise SignatureError("the Signature-Input or Signature header is not as RFC 9421 says")
    if not all(isinstance(name, str) for name, _ in covered_list):
        raise SignatureError("the Signature-Input names a component that is not a string")
    covered = [name for name, _ in covered_list]
    if "@method" not in covered or not (
        "@target-uri" in covered
        or ("@authority" in covered and ("@path" in covered or "@request-target" in covered))
    ):
        raise SignatureError(
            "the signature must cover @method and @target-uri (or @authority and @path)"
        )
    if body and "content-digest" not in covered and "digest" not in covered:
        raise SignatureError("the signature must cover the Content-Digest of the body")
    created = parameters.get("created")
    if not isinstance(created, int):
        raise SignatureError("the signature has no created time")
    _check_time(float(created))
    expires = parameters.get("expires")
    if isinstance(expires, int) and expires < time.time():
        raise SignatureError("the signature has expired")
    key_id = parameters.get("keyid")
    if not isinstance(key_id, str):
        raise SignatureError("the signature has no keyid")
    lines = [
        f'"{name}": {_component(request, name, dict(component_parameters))}'
        for name, component_parameters in covered_list
    ]
    lines.append(f'"@signature-params": {ser_innerlist((covered_list, parameters))}')
    _check_digest(request, body, required=bool(body))
    algorithm = parameters.get("alg", "")
    key = _verify_key(
        key_id,
        signature,
        "\n".join(lines).encode(),
        algorithm if isinstance(algorithm, str) else "",
    )
    _refuse_replay(signature)
    return Verified(key)
