"""systemd's reading of an `EnvironmentFile=`, for tests that compare it with a shell's.

The rules, from systemd.exec(5) and systemd's own parser (src/basic/env-file.c): lines starting
with `#` or `;` are comments (since systemd 254 a trailing backslash no longer continues one);
blanks before a key are skipped; a line without `=` is dropped. After `=`, leading blanks are
skipped; an unquoted value keeps its inner blanks and loses its trailing ones, a backslash keeps
the next character literally and a backslash before a newline joins the lines; '…' keeps
everything verbatim up to the next quote; "…" treats a backslash before one of " \\ ` $ as that
character, drops a backslash-newline, and keeps any other backslash as it is. Quoted and
unquoted pieces may follow each other. No `$VARIABLE` expansion and no command substitution.
Keys that are not valid variable names are dropped (as systemd does, with a warning).
"""

from __future__ import annotations

import re

COMMENTS = "#;"
WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
SHELL_NEED_ESCAPE = '"\\`$'
VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_environment_file(text: str) -> dict[str, str]:
    assignments: dict[str, str] = {}
    state = "pre_key"
    key: list[str] = []
    value: list[str] = []
    # Where trailing blanks of the key / the unquoted value begin (None: no trailing blanks).
    key_blanks: int | None = None
    value_blanks: int | None = None

    def push(trim_value: bool) -> None:
        name = "".join(key[:key_blanks] if key_blanks is not None else key)
        content = value[:value_blanks] if trim_value and value_blanks is not None else value
        if VALID_NAME.match(name):
            assignments[name] = "".join(content)

    for character in text:
        if state == "pre_key":
            if character in COMMENTS:
                state = "comment"
            elif character not in WHITESPACE:
                state, key, key_blanks = "key", [character], None
        elif state == "key":
            if character in NEWLINE:
                state, key = "pre_key", []
            elif character == "=":
                state, value, value_blanks = "pre_value", [], None
            else:
                if character not in WHITESPACE:
                    key_blanks = None
                elif key_blanks is None:
                    key_blanks = len(key)
                key.append(character)
        elif state == "pre_value":
            if character in NEWLINE:
                push(trim_value=False)
                state, key, value = "pre_key", [], []
            elif character == "'":
                state = "single_quote"
            elif character == '"':
                state = "double_quote"
            elif character == "\\":
                state = "value_escape"
            elif character not in WHITESPACE:
                state = "value"
                value.append(character)
        elif state == "value":
            if character in NEWLINE:
                push(trim_value=True)
                state, key, value = "pre_key", [], []
            elif character == "\\":
                state, value_blanks = "value_escape", None
            else:
                if character not in WHITESPACE:
                    value_blanks = None
                elif value_blanks is None:
                    value_blanks = len(value)
                value.append(character)
        elif state == "value_escape":
            state = "value"
            if character not in NEWLINE:
                value.append(character)
        elif state == "single_quote":
            if character == "'":
                state = "pre_value"
            else:
                value.append(character)
        elif state == "double_quote":
            if character == '"':
                state = "pre_value"
            elif character == "\\":
                state = "double_quote_escape"
            else:
                value.append(character)
        elif state == "double_quote_escape":
            state = "double_quote"
            if character in SHELL_NEED_ESCAPE:
                value.append(character)
            elif character != "\n":
                value.extend(("\\", character))
        elif state == "comment":
            if character == "\\":
                state = "comment_escape"
            elif character in NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if character in NEWLINE else "comment"
    if state not in ("pre_key", "key", "comment", "comment_escape"):
        push(trim_value=state == "value")
    return assignments
