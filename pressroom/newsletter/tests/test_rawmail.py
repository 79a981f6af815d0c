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
