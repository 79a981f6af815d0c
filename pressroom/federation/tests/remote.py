"""A second fediverse server for the tests, on loopback, whose signature code is not ours:
it signs with `httpsig` (draft-cavage, as Mastodon) or `http-message-signatures` (RFC 9421),
and checks what we deliver to its inbox with `httpsig`'s verifier. Neither library is used by
Pressroom itself (it signs and verifies with `cryptography`)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import http_message_signatures
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from httpsig import HeaderSigner, HeaderVerifier


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def activity(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class RemoteServer:
    """One actor (`/users/<name>`) with its inbox, a shared inbox (`/inbox`), and a record of
    every request it got. `answer` is the status its inboxes give."""

    name: str = "alice"
    answer: int = 202
    key_type: str = "rsa"
    received: list[Received] = field(default_factory=list)
    gone: bool = False  # the actor was deleted: its documents answer 410
    multikey: bool = False  # publish an Ed25519 key as a FEP-521a Multikey, not as PEM

    def __post_init__(self) -> None:
        if self.key_type == "ed25519":
            self.private_key: Any = ed25519.Ed25519PrivateKey.generate()
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.lock = threading.Lock()

    # Addresses

    @property
    def actor(self) -> str:
        return f"{self.base}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    @property
    def inbox(self) -> str:
        return f"{self.actor}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def actor_document(self) -> dict[str, Any]:
        if self.multikey:
            raw = self.private_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            return {
                "id": self.actor,
                "type": "Person",
                "inbox": self.inbox,
                "assertionMethod": [
                    {
                        "id": self.key_id,
                        "type": "Multikey",
                        "controller": self.actor,
                        "publicKeyMultibase": "z" + base58(b"\xed\x01" + raw),
                    }
                ],
            }
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": self.name,
            "inbox": self.inbox,
            "endpoints": {"sharedInbox": self.shared_inbox},
            "publicKey": {"id": self.key_id, "owner": self.actor, "publicKeyPem": self.public_pem},
        }

    # Serving

    def __enter__(self) -> RemoteServer:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] == urlsplit(remote.actor).path:
                    if remote.gone:
                        self.send_response(410)
                        self.end_headers()
                        return
                    body = json.dumps(remote.actor_document()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/activity+json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(404)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with remote.lock:
                    remote.received.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                self.send_response(remote.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # Signing (httpsig: draft-cavage, as Mastodon signs)

    def cavage_headers(self, url: str, body: bytes, *, date: str | None = None) -> dict[str, str]:
        parts = urlsplit(url)
        headers = {
            "Host": parts.netloc,
            "Date": date or formatdate(usegmt=True),
            "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
            "Content-Type": "application/activity+json",
        }
        signer = HeaderSigner(
            self.key_id,
            self.private_pem,
            algorithm="rsa-sha256",
            headers=["(request-target)", "host", "date", "digest"],
            sign_header="signature",
        )
        signed = signer.sign(headers, method="POST", path=parts.path)
        return {name.title(): value for name, value in signed.items()}

    # Signing (http-message-signatures: RFC 9421)

    def rfc9421_headers(self, url: str, body: bytes) -> dict[str, str]:
        request = requests.Request(
            "POST", url, data=body, headers={"Content-Type": "application/activity+json"}
        ).prepare()
        algorithm = (
            http_message_signatures.algorithms.ED25519
            if self.key_type == "ed25519"
            else http_message_signatures.algorithms.RSA_V1_5_SHA256
        )
        signer = http_message_signatures.HTTPMessageSigner(
            signature_algorithm=algorithm,
            key_resolver=http_message_signatures.MappingKeyResolver(
                public_keys={}, private_keys={self.key_id: self.private_key}
            ),
        )
        signer.sign(
            request,
            key_id=self.key_id,
            created=datetime.datetime.now(datetime.UTC),
            covered_component_ids=("@method", "@target-uri"),
            body=body,
        )
        return {
            name: value
            for name, value in request.headers.items()
            if name.lower() in {"signature", "signature-input", "content-digest", "content-type"}
        }

    def activity(self, kind: str, obj: Any, number: int = 1) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.actor}/activities/{kind.lower()}-{number}",
            "type": kind,
            "actor": self.actor,
            "object": obj,
        }

    # Checking what we were sent (httpsig's verifier)

    def verify(self, received: Received, public_pem: str) -> bool:
        """Our signature on a delivery, checked by httpsig with the key our actor publishes."""
        digest = "SHA-256=" + base64.b64encode(hashlib.sha256(received.body).digest()).decode()
        if received.headers.get("Digest") != digest:
            return False
        verifier = HeaderVerifier(
            received.headers,
            public_pem,
            required_headers=["(request-target)", "host", "date", "digest"],
            method="POST",
            path=received.path,
            sign_header="signature",
        )
        return bool(verifier.verify())


def base58(data: bytes) -> str:
    """Bitcoin's base58 (base58btc), as multibase "z" values use."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, rest = divmod(number, 58)
        text = alphabet[rest] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def django_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers as the Django test client takes them (HTTP_X_Y), Content-Type aside."""
    return {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name.lower() not in {"content-type", "host"}
    }
