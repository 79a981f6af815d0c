"""An editor changes the outlet's name, colours, logo and icon in the admin, without code; bad
values are form errors that say why, and nothing is stored then."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from pressroom.lib.colours import contrast_ratio, normalise_hex_colour
from pressroom.media.models import MediaItem, MediaUse, Rendition
from pressroom.media.services import ICON_SIZES
from pressroom.site.models import DARK_BACKGROUND, LIGHT_BACKGROUND, SiteSettings
from pressroom.site.tests.conftest import png_upload

pytestmark = pytest.mark.django_db


def form_data(**changes: object) -> dict[str, object]:
    """What the admin's form posts for the settings as the environment gives them."""
    data: dict[str, object] = {
        "name": "Pressroom News",
        "tagline": "Independent news",
        "organisation_name": "Pressroom Media Collective",
        "postal_address": "",
        "logo": "",
        "icon": "",
        "share_image": "",
        "accent_colour": "#b3261e",
        "accent_colour_dark": "#ff8a80",
        "footer_text": "",
        "social_links": "",
        "fediverse_url": "",
        "extra_stylesheet": "",
    }
    data.update(changes)
    return data


def errors_of(response) -> str:
    assert response.status_code == 200, "an invalid form is shown again, never saved"
    return " ".join(
        re.sub(r"<[^>]+>", "", match)
        for match in re.findall(
            r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S
        )
    )


def test_before_the_first_save_the_form_shows_the_environment_settings(
    editor_client, settings_url, settings
):
    # The list goes straight to the one row.
    response = editor_client.get("/admin/site/sitesettings/")
    assert response.status_code == 302
    assert response["Location"] == settings_url
    html = editor_client.get(settings_url).content.decode()
    assert f'value="{settings.SITE_NAME}"' in html
    assert SiteSettings.objects.count() == 0, "reading the form writes nothing"


def test_an_editor_saves_name_colours_and_links(editor_client, settings_url, reader_client):
    response = editor_client.post(
        settings_url,
        form_data(
            name="The Andes Post",
            accent_colour="#0B5CAD",
            social_links="https://bsky.app/profile/andes.example\nhttps://www.instagram.com/andespost",
            fediverse_url="https://mastodon.social/@andespost",
        ),
    )
    assert response.status_code == 302, errors_of(response)
    saved = SiteSettings.objects.get()
    assert saved.name == "The Andes Post"
    assert saved.accent_colour == "#0b5cad", "stored in the one form the CSS uses"
    html = reader_client.get("/").content.decode()
    assert "--accent:#0b5cad" in html
    assert '<a href="https://bsky.app/profile/andes.example" rel="noopener">Bluesky</a>' in html
    assert '<link rel="me" href="https://mastodon.social/@andespost">' in html
    # The admin's own title and header name the outlet as saved.
    admin_html = editor_client.get("/admin/").content.decode()
    assert "<title>Newsroom | The Andes Post newsroom</title>" in admin_html
    assert '<a href="/admin/">The Andes Post newsroom</a>' in admin_html


def test_before_the_first_save_the_admin_is_named_from_the_environment(editor_client, settings):
    html = editor_client.get("/admin/").content.decode()
    assert f"{settings.SITE_NAME} newsroom</title>" in html


@pytest.mark.parametrize("colour", ["red", "#12345", "#gggggg", "b3261e", "#b3261e; }", ""])
def test_a_colour_that_is_not_hex_is_a_form_error(editor_client, settings_url, colour):
    response = editor_client.post(settings_url, form_data(accent_colour=colour))
    message = errors_of(response)
    assert "hex colour" in message or "required" in message or "at most 7 characters" in message
    assert SiteSettings.objects.count() == 0


def test_a_low_contrast_accent_is_refused_with_the_measured_ratio(editor_client, settings_url):
    # A pale yellow is unreadable on white: 1.07:1.
    response = editor_client.post(settings_url, form_data(accent_colour="#fff176"))
    ratio = contrast_ratio("#fff176", LIGHT_BACKGROUND)
    assert ratio < 4.5
    message = errors_of(response)
    assert f"{ratio:.2f}:1" in message
    assert "light background" in message
    assert "4.5:1" in message
    assert SiteSettings.objects.count() == 0


def test_a_dark_mode_accent_is_checked_against_the_dark_background(editor_client, settings_url):
    response = editor_client.post(settings_url, form_data(accent_colour_dark="#b3261e"))
    ratio = contrast_ratio("#b3261e", DARK_BACKGROUND)
    message = errors_of(response)
    assert f"{ratio:.2f}:1" in message
    assert "dark background" in message
    assert SiteSettings.objects.count() == 0


def test_the_default_accents_pass_wcag_aa_in_both_modes():
    assert contrast_ratio("#b3261e", LIGHT_BACKGROUND) >= 4.5
    assert contrast_ratio("#ff8a80", DARK_BACKGROUND) >= 4.5
    # The formula's end points (WCAG 2.2): black on white is 21:1, a colour on itself 1:1.
    assert round(contrast_ratio("#000", "#fff"), 2) == 21.0
    assert contrast_ratio("#777777", "#777777") == 1.0
    assert normalise_hex_colour("#AbC") == "#aabbcc"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("social_links", "https://ok.example\njavascript:alert(1)", "Line 2"),
        ("social_links", "\n".join(f"https://s{n}.example" for n in range(13)), "At most 12"),
        ("fediverse_url", "http://mastodon.social/@x", "valid URL"),
        ("extra_stylesheet", "https://cdn.example.net/theme.css", "must be on this site"),
        ("extra_stylesheet", "//cdn.example.net/theme.css", "must be on this site"),
        ("extra_stylesheet", '/static/x.css"><script>', "no quotes"),
        ("extra_stylesheet", "/static/theme.js", "end in .css"),
        ("name", "x" * 101, "at most 100"),
    ],
)
def test_links_and_the_stylesheet_are_validated(admin_client, settings_url, field, value, expected):
    response = admin_client.post(settings_url, form_data(**{field: value}))
    assert expected in errors_of(response)
    assert SiteSettings.objects.count() == 0


def test_a_stylesheet_on_this_site_is_loaded_after_the_theme(
    admin_client, settings_url, reader_client, settings, django_capture_on_commit_callbacks
):
    for value in ("/static/outlet.css", f"{settings.SITE_URL}/static/outlet.css"):
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(settings_url, form_data(extra_stylesheet=value))
        assert response.status_code == 302, errors_of(response)
        html = reader_client.get("/").content.decode()
        assert f'<link rel="stylesheet" href="{value}">' in html


def test_an_oversized_logo_is_refused_and_nothing_is_stored(editor_client, settings_url):
    big = SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * (2 * 1024 * 1024 + 1))
    response = editor_client.post(settings_url, {**form_data(), "logo_upload": big})
    assert "the limit is 2.0 MB" in errors_of(response)
    assert MediaItem.objects.count() == 0
    assert SiteSettings.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("logo.png", b"%PDF-1.4 not an image"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("logo.png", b"\x89PNG\r\n\x1a\n broken"),
    ],
)
def test_a_logo_that_is_not_an_image_is_refused(editor_client, settings_url, name, content):
    upload = SimpleUploadedFile(name, content)
    response = editor_client.post(settings_url, {**form_data(), "logo_upload": upload})
    message = errors_of(response)
    assert "not an image" in message or "damaged" in message or "not accepted" in message
    assert MediaItem.objects.count() == 0
    assert SiteSettings.objects.count() == 0


def test_an_icon_must_be_square_and_large_enough(editor_client, settings_url):
    for width, height in [(600, 400), (256, 256)]:
        upload = png_upload("icon.png", width, height)
        response = editor_client.post(settings_url, {**form_data(), "icon_upload": upload})
        assert f"this image is {width}×{height}" in errors_of(response)
    assert MediaItem.objects.count() == 0


def test_logo_and_icon_go_through_the_media_library_and_show_on_every_page(
    editor_client, settings_url, reader_client
):
    response = editor_client.post(
        settings_url,
        {
            **form_data(name="The Andes Post"),
            "logo_upload": png_upload("masthead.png", 600, 120),
            "icon_upload": png_upload("mark.png", 1024, 1024),
        },
    )
    assert response.status_code == 302, errors_of(response)
    saved = SiteSettings.objects.select_related("logo", "icon").get()
    assert saved.logo.original_name == "masthead.png"
    assert saved.logo.alt_text == "The Andes Post"
    # The icon's sizes were made at once, as square PNGs.
    icons = {
        r.preset: r for r in Rendition.objects.filter(item=saved.icon, preset__startswith="icon-")
    }
    assert sorted(icons) == sorted(f"icon-{size}" for size in ICON_SIZES)
    assert all(
        r.width == r.height == int(r.preset[5:]) and r.format == "png" for r in icons.values()
    )
    # The library knows what uses them (and refuses to delete them).
    assert set(MediaUse.objects.values_list("field", flat=True)) == {"logo", "icon"}

    html = reader_client.get("/").content.decode()
    assert re.search(
        r'<img class="site-logo" src="/media/originals/[^"]+\.png" alt="The Andes Post" width="600" height="120">',
        html,
    )
    assert f'<link rel="apple-touch-icon" href="{icons["icon-180"].url}">' in html
    manifest = reader_client.get("/manifest.webmanifest").json()
    assert {icon["src"] for icon in manifest["icons"]} == {
        icons["icon-192"].url,
        icons["icon-512"].url,
    }


def test_saving_shows_on_cached_pages_at_once(
    editor_client, settings_url, reader_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(settings_url, form_data(name="The Andes Post"))
    assert "<title>The Andes Post</title>" in reader_client.get("/").content.decode()
    # The page is cached: a change nobody announces does not show...
    SiteSettings.objects.update(name="Changed behind the cache's back")
    assert "<title>The Andes Post</title>" in reader_client.get("/").content.decode()
    # ...but saving the settings moves the content generation on, and the next reader sees it.
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            settings_url, form_data(name="Andes Post Daily", accent_colour="#1d5e20")
        )
    assert response.status_code == 302, errors_of(response)
    html = reader_client.get("/").content.decode()
    assert "<title>Andes Post Daily</title>" in html
    assert "--accent:#1d5e20" in html
    assert reader_client.get("/manifest.webmanifest").json()["name"] == "Andes Post Daily"


def test_staff_without_the_permission_cannot_see_or_change_the_settings(
    make_staff, client, settings_url
):
    client.force_login(make_staff("aud", "Audience"))
    assert client.get(settings_url).status_code == 403
    assert client.post(settings_url, form_data(name="Hijacked")).status_code == 403
    assert client.get("/admin/site/sitesettings/").status_code == 403
    assert SiteSettings.objects.count() == 0


def test_the_settings_cannot_be_added_twice_or_deleted(editor_client):
    assert editor_client.get("/admin/site/sitesettings/add/").status_code == 403
    assert editor_client.get("/admin/site/sitesettings/2/change/").status_code == 302
    assert editor_client.post("/admin/site/sitesettings/1/delete/").status_code == 403
    SiteSettings.objects.create(id=1, name="A", organisation_name="A", updated_at=timezone.now())
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SiteSettings.objects.create(id=2, name="B", organisation_name="B")
