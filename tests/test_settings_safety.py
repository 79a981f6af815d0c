"""Settings that cannot hurt: empty means unset, mistakes stop start-up in one line, the static
and var directories never hold code, and only collected static files are ever served."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.systemd_envfile import parse_environment_file
from tests.test_startup import PRESSROOM, REPOSITORY, clean_env, run_pressroom

ENV_EXAMPLE = REPOSITORY / ".env.example"
SECRET = "k3Jx9-Qw7zT2vB8nM4pL6rY1sD5fG0hA"
DUMP_SETTINGS = textwrap.dedent(
    """
    import json, re
    from django.conf import settings
    names = [name for name in dir(settings) if name.isupper()]
    # Without memory addresses (functions in DJANGO_PROSE_EDITOR_EXTENSIONS): they differ
    # between two processes for the same value.
    print(json.dumps({
        name: re.sub(r" at 0x[0-9a-f]+", "", repr(getattr(settings, name))) for name in names
    }))
    """
)


def example_names() -> list[str]:
    return re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)


def base_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    return clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **variables,
    )


def dump_settings(env: dict[str, str]) -> dict[str, str]:
    result = run_pressroom("shell", "-c", DUMP_SETTINGS, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_empty_variable_means_the_default_for_every_setting(tmp_path):
    """Every variable of .env.example left empty (`NAME=`) gives what leaving it out gives."""
    defaults = dump_settings(base_env(tmp_path))
    fixed = {"SECRET_KEY", "PRESSROOM_VAR_DIR", "DATABASE_URL"}
    empty = {name: "" for name in example_names() if name not in fixed}
    assert {"WEB_WORKERS", "BULK_EMAIL_BACKEND", "STATIC_ROOT", "EMAIL_BACKEND"} <= set(empty)
    blanks = {"WEB_WORKERS": "  ", "STATIC_ROOT": " \t"}  # only blanks count as empty too
    with_empty = dump_settings({**base_env(tmp_path), **empty, **blanks})
    assert with_empty == defaults
    mailers = defaults["MAILERS"]
    assert mailers.count("django.core.mail.backends.smtp.EmailBackend") == 2, mailers

    serve_help = run_pressroom("serve", "--help", env={**base_env(tmp_path), **empty})
    assert serve_help.returncode == 0, serve_help.stderr


BAD_SETTINGS = [
    ({"WEB_WORKERS": "abc"}, "WEB_WORKERS must be a whole number, not 'abc'"),
    ({"WEB_WORKERS": "-2"}, "WEB_WORKERS must be between 0 and 256, not '-2'"),
    ({"PORT": "70000"}, "PORT must be between 1 and 65535"),
    ({"DIGEST_BATCH_SIZE": "-1"}, "DIGEST_BATCH_SIZE must be between 1 and"),
    # Zero is a division (pagination, digest batches) or an instant expiry: refused at start-up,
    # not a 500 on the home page or a digest that never goes out.
    ({"DIGEST_BATCH_SIZE": "0"}, "DIGEST_BATCH_SIZE must be between 1 and"),
    ({"DIGEST_BATCH_SIZE": "10001"}, "DIGEST_BATCH_SIZE must be between 1 and 10000"),
    ({"ARTICLES_PER_PAGE": "0"}, "ARTICLES_PER_PAGE must be between 1 and 1000, not '0'"),
    ({"FEED_ITEMS": "0"}, "FEED_ITEMS must be between 1 and 1000"),
    ({"DIGEST_MAX_ATTEMPTS": "0"}, "DIGEST_MAX_ATTEMPTS must be between 1 and 100"),
    ({"DIGEST_CONFIRMATION_DAYS": "0"}, "DIGEST_CONFIRMATION_DAYS must be between 1 and"),
    ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT must be between 1 and 3600"),
    ({"EMAIL_PORT": "99999"}, "EMAIL_PORT must be between 1 and 65535, not '99999'"),
    # Django found no translation for it and every command stopped with an OSError traceback.
    ({"LANGUAGE_CODE": "\u00fc\u2603"}, "LANGUAGE_CODE must be a language code Django knows"),
    ({"LANGUAGE_CODE": "zz-yy"}, "LANGUAGE_CODE must be a language code Django knows"),
    ({"DIGEST_SEND_RATE": "nan"}, "DIGEST_SEND_RATE must be between 0 and"),
    ({"EMAIL_BACKEND": "anymail.backends.nosuch.EmailBackend"}, "EMAIL_BACKEND 'anymail"),
    ({"BULK_EMAIL_BACKEND": "smtp"}, "BULK_EMAIL_BACKEND 'smtp' cannot be imported"),
    # Django's task framework loads the backend before any app is ready; its own line names it.
    ({"TASKS_BACKEND": "django_tasks_db.Nope"}, "'django_tasks_db.Nope'"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO"),
    ({"DATABASE_URL": "postgress://x/y"}, "DATABASE_URL is not a database URL"),
    ({"CACHE_URL": "memcached://x"}, "CACHE_URL scheme 'memcached' is not supported"),
    ({"CACHE_URL": "locmem://?timeout=-5"}, "CACHE_URL's timeout must be 0 to 31622400 seconds"),
    ({"STRIPE_API_BASE": "http://api.stripe.example"}, "STRIPE_API_BASE must be an https address"),
    ({"STRIPE_API_BASE": "https://"}, "STRIPE_API_BASE must be an https address"),
    ({"TIME_ZONE": "Europe/Atlantis"}, "TIME_ZONE must be a time zone name"),
    ({"DIGEST_TIMEZONE": "CEST+2"}, "DIGEST_TIMEZONE must be a time zone name"),
    ({"SITE_URL": "news.example.org"}, "SITE_URL must be an http(s) address"),
    (
        {"SOCIAL_IMAGE_DEFAULT_URL": "media/card.png"},
        "SOCIAL_IMAGE_DEFAULT_URL must be an http(s) URL or a path starting with /",
    ),
    ({"DEFAULT_FROM_EMAIL": "Pressroom News"}, "DEFAULT_FROM_EMAIL must be an email address"),
    ({"ADMINS": "ops@example.org, nobody"}, "ADMINS must be an email address, not 'nobody'"),
    ({"EMAIL_USE_TLS": "yes", "EMAIL_USE_SSL": "yes"}, "cannot both be true"),
    ({"DKIM_SELECTOR": "mail"}, "DKIM_PRIVATE_KEY_PATH, DKIM_SELECTOR and DKIM_DOMAIN"),
    (
        {
            "DKIM_PRIVATE_KEY_PATH": "/nonexistent/dkim.pem",
            "DKIM_SELECTOR": "m",
            "DKIM_DOMAIN": "d",
        },
        "DKIM_PRIVATE_KEY_PATH '/nonexistent/dkim.pem' is not a readable file",
    ),
    ({"METRICS_ALLOWED_IPS": "10.0.0.0/8,localhost"}, "METRICS_ALLOWED_IPS must list"),
    ({"METRICS_TOKEN": "secret"}, "METRICS_TOKEN must be a long random string"),
    ({"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN is not a valid DSN"),
    ({"SECRET_KEY": "change-me"}, "SECRET_KEY looks like a placeholder"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY looks like a placeholder or is too short"),
    ({"STATIC_ROOT": "staticfiles"}, "STATIC_ROOT must be an absolute path, not 'staticfiles'"),
    ({"STATIC_ROOT": str(REPOSITORY)}, f"STATIC_ROOT must not be {REPOSITORY}, which is"),
    ({"STATIC_ROOT": str(REPOSITORY.parent)}, "STATIC_ROOT must not be"),
    ({"STATIC_ROOT": "/"}, "STATIC_ROOT must not be /, which is or contains the code"),
    ({"STATIC_ROOT": str(REPOSITORY / "pressroom" / "static")}, "STATIC_ROOT must not be inside"),
    ({"STATIC_ROOT": sys.prefix + "/static"}, "STATIC_ROOT must not be inside"),
    ({"STATIC_ROOT": str(REPOSITORY / ".git" / "s")}, "STATIC_ROOT must not be inside"),
    ({"PRESSROOM_VAR_DIR": str(REPOSITORY)}, "PRESSROOM_VAR_DIR must not be"),
    ({"PRESSROOM_VAR_DIR": str(Path(sys.prefix).parent)}, "PRESSROOM_VAR_DIR must not be"),
    ({"BACKUP_DIR": "backups"}, "BACKUP_DIR must be an absolute path, not 'backups'"),
    ({"BACKUP_DIR": str(REPOSITORY)}, f"BACKUP_DIR must not be {REPOSITORY}, which is"),
    ({"BACKUP_DIR": str(REPOSITORY / ".git" / "b")}, "BACKUP_DIR must not be inside"),
    # Served or backed-up directories never hold the database, secret key or backups: with
    # MEDIA_ROOT=PRESSROOM_VAR_DIR each backup held every earlier one and the live SQLite file.
    ({"MEDIA_ROOT": "{var}"}, "MEDIA_ROOT must not be or contain PRESSROOM_VAR_DIR"),
    ({"MEDIA_ROOT": "{parent}"}, "MEDIA_ROOT must not be or contain PRESSROOM_VAR_DIR"),
    ({"STATIC_ROOT": "{var}"}, "STATIC_ROOT must not be or contain PRESSROOM_VAR_DIR"),
    ({"BACKUP_DIR": "{var}/media/backups"}, "MEDIA_ROOT must not be or contain BACKUP_DIR"),
    ({"BACKUP_DIR": "{var}/static/b", "STATIC_ROOT": "{var}/static"}, "STATIC_ROOT must not be"),
]


@pytest.mark.parametrize(("variables", "message"), BAD_SETTINGS, ids=lambda v: str(v)[:40])
def test_a_bad_setting_stops_start_up_with_one_clear_line(tmp_path, variables, message):
    command = ["serve", "--port", "8199"] if "WEB_WORKERS" in variables else ["check"]
    places = {"var": tmp_path, "parent": tmp_path.parent}
    variables = {name: value.format(**places) for name, value in variables.items()}
    result = run_pressroom(*command, env={**base_env(tmp_path), **variables})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pressroom: configuration error: "), lines
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


STATIC_PROBES = [
    "/static/.git/config",
    "/static/pressroom/settings.py",
    "/static/.venv/pyvenv.cfg",
    "/static/.env",
    "/static/secret_key",
    "/static/staticfiles.json.bak",
]
REQUEST_STATIC = textwrap.dedent(
    """
    import json
    from django.test import Client
    client = Client(HTTP_HOST="localhost")
    print(json.dumps({path: client.get(path).status_code for path in PATHS}))
    """
)


def statuses(env: dict[str, str], paths: list[str]) -> dict[str, int]:
    result = subprocess.run(
        [PRESSROOM, "shell", "-c", f"PATHS = {paths!r}\n" + REQUEST_STATIC],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def plant_secrets(directory: Path) -> None:
    """What a careless copy could leave in a static directory."""
    (directory / ".git").mkdir(parents=True, exist_ok=True)
    (directory / ".git" / "config").write_text("[core]\n")
    (directory / "pressroom").mkdir(exist_ok=True)
    (directory / "pressroom" / "settings.py").write_text("SECRET_KEY = 'x'\n")
    (directory / ".venv").mkdir(exist_ok=True)
    (directory / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (directory / ".env").write_text("SECRET_KEY=leaked\n")
    (directory / "secret_key").write_text("leaked\n")
    (directory / "staticfiles.json.bak").write_text("{}")


def collected_stylesheet(static_root: Path) -> str:
    paths = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    return "/static/" + paths["front/site.css"]


@pytest.fixture
def collected_static(tmp_path) -> Path:
    """A production STATIC_ROOT of its own: the suite's collected files, copied."""
    source = REPOSITORY / "staticfiles"
    if not (source / "staticfiles.json").exists():
        pytest.fail("run `pressroom collectstatic --no-input` first (make test does)")
    target = tmp_path / "static"
    shutil.copytree(source, target)
    return target


def test_only_collected_static_files_are_served_in_every_documented_configuration(
    tmp_path, collected_static
):
    # `make run`: the default STATIC_ROOT (staticfiles/ in the checkout), a development secret.
    make_run = clean_env(
        PRESSROOM_DEV_SECRET="1",
        PRESSROOM_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    # Production (docs/deploy.md): STATIC_ROOT of its own, with a careless copy in it.
    plant_secrets(collected_static)
    production = base_env(tmp_path, STATIC_ROOT=str(collected_static))
    # .env.example's shape: STATIC_ROOT= and PRESSROOM_VAR_DIR= left empty.
    example = {**base_env(tmp_path), "STATIC_ROOT": "", "PRESSROOM_VAR_DIR": ""}
    # DEBUG: files found in the apps' static folders on each request.
    debug = base_env(tmp_path, DEBUG="true", STATIC_ROOT=str(collected_static))

    # The site's 404 page shows the campaign banner: it needs its tables.
    migrated = run_pressroom("migrate", "--no-input", env=production)
    assert migrated.returncode == 0, migrated.stderr
    stylesheet = collected_stylesheet(REPOSITORY / "staticfiles")
    for name, env, served in [
        ("make run", make_run, stylesheet),
        ("production", production, collected_stylesheet(collected_static)),
        (".env.example", example, stylesheet),
        ("DEBUG", debug, "/static/front/site.css"),
    ]:
        answers = statuses(env, [*STATIC_PROBES, served])
        assert answers.pop(served) == 200, (name, served)
        assert answers == dict.fromkeys(STATIC_PROBES, 404), name


def bash_reading(path: Path) -> tuple[dict[str, str], str]:
    """What `set -a; . FILE; set +a` exports, in a shell with an otherwise empty environment."""
    script = (
        f'set -a; . "{path}"; set +a; '
        'python3 -c "import json, os; print(json.dumps(dict(os.environ)))"'
    )
    result = subprocess.run(
        ["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "bash", "--noprofile", "--norc", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_env_example_reads_the_same_in_a_shell_and_in_systemd():
    names = example_names()
    from_systemd = parse_environment_file(ENV_EXAMPLE.read_text())
    from_bash, errors = bash_reading(ENV_EXAMPLE)
    assert errors == ""  # no "command not found": nothing was run as a command
    assert list(from_systemd) == names
    assert {name: from_bash.get(name) for name in names} == from_systemd
    assert from_systemd["DEFAULT_FROM_EMAIL"] == "Pressroom News <news@example.org>"
    assert from_systemd["SITE_NAME"] == "Pressroom News"
    # The last line is read too (the shell used to stop at line 69).
    assert from_bash[names[-1]] == from_systemd[names[-1]]


def test_the_systemd_reading_follows_systemds_rules(tmp_path):
    """The parser the comparison relies on, on the cases where shell and systemd differ."""
    text = (
        "# comment\n; also a comment\n"
        "PLAIN=a b  \n"
        'QUOTED="x \\"y\\" \\$z \\n"\n'
        "SINGLE='a \\ b'\n"
        "JOINED=one\\\ntwo\n"
        "  SPACED = value\n"
        "NO_EQUALS\n"
        "export BAD=1\n"
        "HASH=a#b\n"
        "EMPTY=\n"
    )
    assert parse_environment_file(text) == {
        "PLAIN": "a b",
        "QUOTED": 'x "y" $z \\n',
        "SINGLE": "a \\ b",
        "JOINED": "onetwo",
        "SPACED": "value",
        "HASH": "a#b",
        "EMPTY": "",
    }


def test_env_example_placeholders_fail_loudly(tmp_path):
    example = parse_environment_file(ENV_EXAMPLE.read_text())
    local = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CACHE_URL": "locmem://"}
    env = clean_env(**{**example, **local, "PRESSROOM_VAR_DIR": str(tmp_path)})
    refused = run_pressroom("check", env=env)
    assert refused.returncode == 2
    assert "SECRET_KEY looks like a placeholder" in refused.stderr

    env["SECRET_KEY"] = SECRET
    doctor = run_pressroom("doctor", env=env)
    assert doctor.returncode == 1
    settings_row = next(line for line in doctor.stdout.splitlines() if line.startswith("settings"))
    assert "FAIL" in settings_row
    assert "placeholder host news.example.org" in settings_row
    assert "news@example.org" in settings_row


def test_a_media_url_is_a_path_not_a_pattern(tmp_path):
    """MEDIA_URL went into the URL pattern unescaped: a "(" in it failed every request."""
    show = (
        "from django.test import Client; from django.urls import reverse; "
        "print(reverse('media:file', args=['originals/x.jpg']), "
        "Client(HTTP_HOST='localhost').get('/a(b/originals/x.jpg').status_code)"
    )
    (tmp_path / "media" / "originals").mkdir(parents=True)
    (tmp_path / "media" / "originals" / "x.jpg").write_bytes(b"an image")
    env = base_env(tmp_path, MEDIA_URL="/a(b/", MEDIA_ROOT=str(tmp_path / "media"))
    result = run_pressroom("shell", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "/a(b/originals/x.jpg 200"


def test_postgresql_connects_without_jit_unless_told_otherwise(tmp_path):
    """JIT compiling cost a fan-out chunk 166 ms of 171 (docs/newsletter.md): off on PostgreSQL
    by default, left alone when DATABASE_JIT_OFF=false (PgBouncer) or when the URL chooses."""
    postgres = "postgres://pressroom:secret@127.0.0.1:5432/pressroom"

    def options(**variables: str) -> str:
        return dump_settings({**base_env(tmp_path), **variables})["DATABASES"]

    assert "'options': '-c jit=off'" in options(DATABASE_URL=postgres)
    assert "jit" not in options(DATABASE_URL=postgres, DATABASE_JIT_OFF="false")
    assert "jit" not in options()  # SQLite
