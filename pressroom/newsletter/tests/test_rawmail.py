"""The hand-built digest MIME decodes to exactly what was rendered, personal links included."""

from __future__ import annotations

import email
import email.policy
import re

from pressroom.newsletter.rawmail import PreparedMessage, header

PREFS, UNSUB = "__P__", "__U__"

TEXT = (
    "Résumé: marchers & miners\n"
    + ".a line starting with a dot\n"
    + "x" * 300
    + f" {PREFS}{UNSUB}\n"
    + f"Unsubscribe: {UNSUB} trailing space \n"
    + "last line without newline"
)
HTML = f'<p>{"ñ" * 120}</p>\n<a href="{PREFS}">prefs</a> <a href="{UNSUB}">unsubscribe</a>\n'


def compose(links: dict[str, str], *, stuffed: bool) -> bytes:
    prepared = PreparedMessage.build("Digest: «Perú» " + "y" * 90, TEXT, HTML, (PREFS, UNSUB))
    return prepared.compose(
        from_header=header("From", "Pressroom <news@example.org>"),
        to="rosa@example.org",
        headers={"Message-ID": "<digest-1-1@example.org>"},
        links=links,
        stuffed=stuffed,
    )


def test_digest_bytes_decode_to_the_rendered_text_with_personal_links():
    links = {
        PREFS: "https://news.example.org/digest/preferences/1:abc/",
        # 70 characters in, a dot starts the second line of the encoded URL.
        UNSUB: "https://news.example.org/digest/unsubscribe/" + "a" * 26 + ".tail-xyz/",
    }
    raw = compose(links, stuffed=False)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n")[8:])
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Digest: «Perú» " + "y" * 90
    expected_text = TEXT.replace(PREFS, links[PREFS]).replace(UNSUB, links[UNSUB])
    expected_html = HTML.replace(PREFS, links[PREFS]).replace(UNSUB, links[UNSUB])
    # Line ends arrive as CRLF (SMTP's), which a mail client shows as plain newlines.
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text.rstrip("\n") == expected_text
    assert html == expected_html


def test_smtp_dot_stuffing_is_undone_by_the_receiver_into_the_same_message():
    links = {PREFS: "https://x.example/p/", UNSUB: "https://x.example/u/" + "b" * 50 + ".c/"}
    stuffed = compose(links, stuffed=True)
    assert re.search(rb"(?m)^\.[^.]", stuffed) is None  # no lone dot starts a line
    unstuffed = re.sub(rb"(?m)^\.\.", b".", stuffed)
    plain = compose(links, stuffed=False)
    strip = re.compile(rb"(Date: .*?\r\n|=_pressroom_[0-9a-f]+)")
    assert strip.sub(b"", unstuffed) == strip.sub(b"", plain)


def test_a_boundary_is_one_per_prepared_message_and_never_in_its_quoted_printable_parts():
    prepared = PreparedMessage.build("Digest", "a=b =_pressroom_ x", "<p>=_</p>", (PREFS, UNSUB))
    assert prepared.boundary.startswith(b"=_pressroom_")
    raw = compose_with(prepared, "one@example.org") + compose_with(prepared, "two@example.org")
    # Each copy names it 4 times (the header, each part's start, the end): nothing else does.
    assert raw.count(prepared.boundary) == 2 * 4
    message = email.message_from_bytes(compose_with(prepared, "one@example.org"), policy=POLICY)
    assert message.get_body(("plain",)).get_content().startswith("a=b =_pressroom_ x")


POLICY = email.policy.default


def compose_with(prepared: PreparedMessage, to: str) -> bytes:
    return prepared.compose(
        from_header=header("From", "news@example.org"),
        to=to,
        headers={},
        links={PREFS: "https://x.example/p/", UNSUB: "https://x.example/u/"},
        stuffed=True,
    )


def _conversation(port: int):
    import select
    import smtplib

    from pressroom.newsletter.rawmail import Conversation

    conversation = Conversation(smtplib.SMTP("127.0.0.1", port, timeout=10))

    def answers(count: int) -> list:
        replies: list = []
        while len(replies) < count:
            select.select([conversation.sock], [], [], 10)
            replies += conversation.read()
        return replies

    return conversation, answers


def test_a_conversation_pipelines_envelopes_with_content_and_tags_every_reply(smtp_server):
    """Over a real SMTP server offering PIPELINING: each message's content goes out in one
    write with the next envelope; every reply comes back with its command's tag, in order; a
    refused recipient is answered as such and the connection goes on after RSET."""
    from pressroom.newsletter.rawmail import content, envelope

    smtp_server.pipelining = True
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    prepared = PreparedMessage.build("Digest", TEXT, HTML, (PREFS, UNSUB))
    conversation, answers = _conversation(smtp_server.port)
    assert conversation.pipelining

    def announce(address: str) -> None:
        for kind, command in zip(
            ("mail", "rcpt", "data"), envelope("news@example.org", address), strict=True
        ):
            conversation.queue(command, (kind, address))

    announce("a@example.org")
    conversation.write()
    assert [(tag, code) for tag, code, _ in answers(3)] == [
        (("mail", "a@example.org"), 250),
        (("rcpt", "a@example.org"), 250),
        (("data", "a@example.org"), 354),
    ]
    conversation.queue(content(compose_with(prepared, "a@example.org")), ("end", "a@example.org"))
    announce("gone@example.org")
    conversation.write()  # one write: the content and the next envelope
    assert not conversation.queued
    replies = answers(4)
    assert [(tag, code) for tag, code, _ in replies] == [
        (("end", "a@example.org"), 250),
        (("mail", "gone@example.org"), 250),
        (("rcpt", "gone@example.org"), 550),
        (("data", "gone@example.org"), 503),  # no valid recipients
    ]
    assert "No such user" in replies[2][2]
    conversation.queue(b"RSET\r\n", ("rset", ""))
    announce("b@example.org")
    conversation.write()
    assert [code for _, code, _ in answers(4)] == [250, 250, 250, 354]
    conversation.queue(content(compose_with(prepared, "b@example.org")), ("end", "b@example.org"))
    conversation.write()
    assert answers(1)[0][1] == 250
    assert conversation.idle
    conversation.smtp.quit()
    assert [m.recipients for m in smtp_server.messages] == [["a@example.org"], ["b@example.org"]]
    for received in smtp_server.messages:
        assert received.text.replace("\r\n", "\n").startswith("Résumé: marchers & miners")


def test_without_pipelining_a_conversation_writes_a_command_only_once_answered(smtp_server):
    from pressroom.newsletter.rawmail import content, envelope

    conversation, answers = _conversation(smtp_server.port)
    assert not conversation.pipelining
    for command in envelope("news@example.org", "a@example.org"):
        conversation.queue(command, command[:4])
    conversation.write()
    assert len(conversation.queued) == 2  # MAIL is out; RCPT and DATA wait for its reply
    replies = []
    while conversation.awaiting:
        replies += answers(1)
        conversation.write()
    assert [(tag, code) for tag, code, _ in replies] == [
        (b"MAIL", 250),
        (b"RCPT", 250),
        (b"DATA", 354),
    ]
    prepared = PreparedMessage.build("Digest", TEXT, HTML, (PREFS, UNSUB))
    conversation.queue(content(compose_with(prepared, "a@example.org")), b"end")
    conversation.write()
    assert answers(1)[0][1] == 250
    conversation.smtp.quit()
    assert [m.recipients for m in smtp_server.messages] == [["a@example.org"]]


def test_a_message_announced_and_never_written_delivers_nothing_to_its_recipient(smtp_server):
    """A batch that stops with an envelope accepted drops the connection: ending the message
    with "." would deliver an empty email, and a QUIT would be read as its content."""
    from pressroom.newsletter.rawmail import envelope

    smtp_server.pipelining = True
    conversation, answers = _conversation(smtp_server.port)
    for command in envelope("news@example.org", "a@example.org"):
        conversation.queue(command, "a")
    conversation.write()
    assert [code for _, code, _ in answers(3)] == [250, 250, 354]
    conversation.smtp.close()  # what the loop does with a message open
    assert smtp_server.messages == []


def test_a_reply_that_is_not_smtp_ends_the_conversation_after_the_good_ones(smtp_server):
    import smtplib
    import socket
    import threading

    import pytest

    from pressroom.newsletter.rawmail import Conversation

    listener = socket.create_server(("127.0.0.1", 0))

    def babble() -> None:
        peer, _ = listener.accept()
        peer.sendall(b"220 hello\r\n")
        peer.recv(1024)  # EHLO
        peer.sendall(b"250-hello\r\n250 PIPELINING\r\n")
        peer.recv(1024)  # MAIL and RCPT
        peer.sendall(b"250 sender ok\r\nHTTP/1.1 400 Bad Request\r\n")
        peer.recv(1024)
        peer.close()

    threading.Thread(target=babble, daemon=True).start()
    conversation = Conversation(smtplib.SMTP("127.0.0.1", listener.getsockname()[1], timeout=10))
    conversation.queue(b"MAIL FROM:<news@example.org>\r\n", "mail")
    conversation.queue(b"RCPT TO:<rosa@example.org>\r\n", "rcpt")
    conversation.write()
    replies = []
    while not conversation.broken:
        replies += conversation.read()
    assert replies == [("mail", 250, "sender ok")]  # the answer before the nonsense counts
    assert conversation.broken == "not an SMTP reply: 'HTTP/1.1 400 Bad Request'"
    with pytest.raises(smtplib.SMTPServerDisconnected, match="not an SMTP reply"):
        conversation.read()
    conversation.smtp.close()
    listener.close()
