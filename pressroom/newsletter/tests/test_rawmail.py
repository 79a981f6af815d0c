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


def test_transactions_in_a_row_announce_each_envelope_with_the_previous_message(smtp_server):
    """Over a real SMTP server offering PIPELINING: every message arrives once, whole and in
    order; a recipient refused while announced is refused (the connection goes on); a message
    announced and never written arrives nowhere."""
    import smtplib

    from pressroom.newsletter.rawmail import RecipientRefused, Transactions

    smtp_server.pipelining = True
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    prepared = PreparedMessage.build("Digest", TEXT, HTML, (PREFS, UNSUB))
    addresses = ["a@example.org", "gone@example.org", "b@example.org", "c@example.org"]
    recorded: list[str] = []
    refused: list[str] = []
    connection = smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10)
    transactions = Transactions("news@example.org")
    for index, address in enumerate(addresses):
        following = addresses[index + 1] if index + 1 < len(addresses) else "late@example.org"
        try:
            transactions.send(
                connection,
                address,
                compose_with(prepared, address),
                before_data=lambda: recorded.append("before"),
                next_recipient=following,
            )
        except RecipientRefused as refusal:
            refused.append(f"{refusal.code} {address}")
    assert transactions.open  # late@ was announced, and will never be written
    connection.close()  # no QUIT: it would be read as the message's content
    assert refused == ["550 gone@example.org"]
    assert recorded == ["before"] * 3
    assert [m.recipients for m in smtp_server.messages] == [
        ["a@example.org"],
        ["b@example.org"],
        ["c@example.org"],
    ]
    for received in smtp_server.messages:
        assert received.text.replace("\r\n", "\n").startswith("Résumé: marchers & miners")


def test_a_message_announced_and_not_sent_delivers_nothing_to_its_recipient(smtp_server):
    """Review finding 16: when the next message is not the one announced (its recipient was
    dropped meanwhile), the announced one is not ended with "." (an empty email to its
    recipient): the connection is dropped, and the real next message goes on a new one."""
    import smtplib

    import pytest

    from pressroom.newsletter.rawmail import Transactions

    smtp_server.pipelining = True
    prepared = PreparedMessage.build("Digest", TEXT, HTML, (PREFS, UNSUB))
    transactions = Transactions("news@example.org")
    connection = smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10)
    transactions.send(
        connection,
        "a@example.org",
        compose_with(prepared, "a@example.org"),
        next_recipient="unsubscribed@example.org",
    )
    with pytest.raises(smtplib.SMTPServerDisconnected):
        transactions.send(connection, "b@example.org", compose_with(prepared, "b@example.org"))
    assert not transactions.open
    connection = smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10)
    transactions.send(connection, "b@example.org", compose_with(prepared, "b@example.org"))
    connection.quit()
    assert [m.recipients for m in smtp_server.messages] == [["a@example.org"], ["b@example.org"]]
    assert all(m.text.strip() for m in smtp_server.messages)
