"""The sending loop over several SMTP connections: skips, pacing, and a server that misbehaves."""

from __future__ import annotations

import time

import pytest

from pressroom.newsletter import sending
from pressroom.newsletter.models import Delivery
from pressroom.newsletter.tests.conftest import build_digest
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Topic


@pytest.mark.django_db(transaction=True)
def test_readers_whose_topics_have_nothing_today_are_skipped_and_get_no_connection(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 3
    make_article()  # in the default topic, Peru
    chile = publishing.save_topic(Topic(name="Chile"))
    readers = [make_subscriber(f"reader{n}@example.org") for n in range(4)]
    digest, _ = build_digest()
    # After the rows were written, two readers chose Chile only, which has nothing today.
    for reader in readers[:2]:
        reader.all_topics = False
        reader.save()
        reader.topics.set([chile])

    assert sending.send_all_batches(digest.pk) == 2

    states = dict(Delivery.objects.filter(digest=digest).values_list("subscriber__email", "state"))
    assert states == {
        "reader0@example.org": "skipped",
        "reader1@example.org": "skipped",
        "reader2@example.org": "sent",
        "reader3@example.org": "sent",
    }
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        "reader2@example.org",
        "reader3@example.org",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_nobody_to_mail_is_recorded_without_a_mail_server(
    smtp_server, make_subscriber, make_article, settings
):
    make_article()
    chile = publishing.save_topic(Topic(name="Chile"))
    reader = make_subscriber()
    digest, _ = build_digest()
    reader.all_topics = False
    reader.save()
    reader.topics.set([chile])
    settings.MAILERS = {
        name: {**mailer, "OPTIONS": {**mailer["OPTIONS"], "port": 1}}  # nothing listens there
        for name, mailer in settings.MAILERS.items()
    }

    assert sending.send_all_batches(digest.pk) == 0

    assert list(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == [
        "skipped"
    ]
    digest.refresh_from_db()
    assert digest.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_the_send_rate_holds_across_connections_and_everyone_gets_one_copy(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 3
    settings.DIGEST_SEND_RATE = 20  # messages a second for the worker: one every 50 ms
    make_article()
    for n in range(7):
        make_subscriber(f"reader{n}@example.org")
    digest, _ = build_digest()

    started = time.monotonic()
    assert sending.send_all_batches(digest.pk) == 7
    elapsed = time.monotonic() - started

    # Seven messages at 20 a second: six waits of 50 ms at least, over all three connections.
    assert elapsed >= 6 * 0.05
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        f"reader{n}@example.org" for n in range(7)
    ]
    assert set(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == {"sent"}


def _self_signed_certificate(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that signs itself: (certificate file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file = directory / "smtp.pem"
    key_file = directory / "smtp.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certificate_file), str(key_file)


@pytest.mark.django_db(transaction=True)
def test_a_digest_goes_out_over_starttls_to_every_reader_once(
    make_subscriber, make_article, settings, tmp_path, monkeypatch
):
    """The loop reads TLS connections as it reads plain ones (decrypted bytes the socket has
    already taken are read too): a relay that requires STARTTLS, pipelining, two connections."""
    import ssl

    from aiosmtpd.controller import Controller

    from pressroom.newsletter.tests.conftest import MailSink
    from tests.ports import free_port

    certificate, key = _self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", certificate)  # the client trusts this certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate, key)
    sink = MailSink(pipelining=True)
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context,
        require_starttls=True,
    )
    controller.start()
    try:
        options = {"host": "127.0.0.1", "port": controller.port, "timeout": 10, "use_tls": True}
        backend = "django.core.mail.backends.smtp.EmailBackend"
        settings.MAILERS = {
            "default": {"BACKEND": backend, "OPTIONS": options},
            "bulk": {"BACKEND": backend, "OPTIONS": options},
        }
        settings.DIGEST_SMTP_CONNECTIONS = 2
        make_article()
        for n in range(9):
            make_subscriber(f"reader{n}@example.org")
        digest, _ = build_digest()

        assert sending.send_all_batches(digest.pk) == 9
    finally:
        controller.stop()

    assert sorted(m.recipients[0] for m in sink.messages) == [
        f"reader{n}@example.org" for n in range(9)
    ]
    assert all("Miners march on Lima" in m.text for m in sink.messages)


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_stops_answering_fails_the_batch_and_its_rows_wait_again(
    make_subscriber, make_article, settings
):
    """It greets, then never answers MAIL: after EMAIL_TIMEOUT the connection is tried once
    more, then the batch stops and its readers go back to pending for a later attempt."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    peers: list[socket.socket] = []

    def greet_then_say_nothing() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            peers.append(peer)
            peer.sendall(b"220 hello\r\n")
            peer.recv(1024)  # EHLO
            peer.sendall(b"250-hello\r\n250 PIPELINING\r\n")

    threading.Thread(target=greet_then_say_nothing, daemon=True).start()
    options = {"host": "127.0.0.1", "port": listener.getsockname()[1], "timeout": 1}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "bulk": {"BACKEND": backend, "OPTIONS": options},
    }
    make_article()
    make_subscriber()
    digest, _ = build_digest()

    try:
        with pytest.raises(TimeoutError, match="stopped answering"):
            sending.send_batch(digest.pk, 0)
    finally:
        listener.close()
        for peer in peers:
            peer.close()

    assert len(peers) == 2  # the first connection and one more
    assert list(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == [
        "pending"
    ]
    assert list(digest.batches.values_list("claim", "attempts")) == [("", 1)]
