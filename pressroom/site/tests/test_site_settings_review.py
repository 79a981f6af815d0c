"""What a review of the site settings found (issue 14): who may change what, a refused upload
that said "changed successfully" and lost the other edits, a logo too thin to see, colours
written into every page's CSS."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from pressroom.media.models import MediaItem
from pressroom.site.models import DEFAULT_ACCENT, DEFAULT_ACCENT_DARK, SiteSettings
from pressroom.site.tests.conftest import png_upload
from pressroom.site.tests.test_site_settings_admin import errors_of, form_data

pytestmark = pytest.mark.django_db


def noisy_png(name: str, width: int, height: int) -> SimpleUploadedFile:
    """A real PNG that does not compress away (random pixels)."""
    output = io.BytesIO()
    pixels = random.Random(14).randbytes(width * height * 3)
    Image.frombytes("RGB", (width, height), pixels).save(output, format="PNG")
    return SimpleUploadedFile(name, output.getvalue(), content_type="image/png")


ORGANISATION_EDIT = {
    "organisation_name": "Andes Media Cooperative",
    "postal_address": "Jr. Lampa 123\nLima",
}
PAGE_CODE_EDIT = {
    "footer_text": "Read us anywhere else.",
    "extra_stylesheet": "/static/hide-donate.css",
}


def test_an_editor_changes_the_theme_but_not_the_organisation_footer_or_stylesheet(
    editor_client, settings_url
):
    html = editor_client.get(settings_url).content.decode()
    for field in ("organisation_name", "postal_address", "footer_text", "extra_stylesheet"):
        assert f'name="{field}"' in html
        tag = html.split(f'name="{field}"', 1)[1].split(">", 1)[0]
        assert "disabled" in tag, field
    assert "Only administrators may change this." in html
    assert "Only administrators and the Fundraising role may change this." in html

    # Posted anyway (a hand-made request): the theme edit is saved, the rest ignored.
    response = editor_client.post(
        settings_url, form_data(name="The Andes Post", **ORGANISATION_EDIT, **PAGE_CODE_EDIT)
    )
    assert response.status_code == 302, errors_of(response)
    saved = SiteSettings.objects.get()
    assert saved.name == "The Andes Post"
    assert saved.organisation_name == SiteSettings.from_environment().organisation_name
    assert saved.postal_address == saved.footer_text == saved.extra_stylesheet == ""


def test_the_fundraising_role_changes_the_organisation_and_nothing_else(
    make_staff, client, settings_url
):
    client.force_login(make_staff("fran", "Fundraising"))
    response = client.post(
        settings_url,
        form_data(name="Hijacked", accent_colour="#000000", **ORGANISATION_EDIT, **PAGE_CODE_EDIT),
    )
    assert response.status_code == 302, errors_of(response)
    saved = SiteSettings.objects.get()
    assert saved.organisation_name == "Andes Media Cooperative"
    assert saved.postal_address == "Jr. Lampa 123\nLima"
    assert saved.name == SiteSettings.from_environment().name
    assert saved.accent_colour == DEFAULT_ACCENT
    assert saved.footer_text == saved.extra_stylesheet == ""


def test_an_administrator_changes_every_setting(admin_client, settings_url, reader_client):
    response = admin_client.post(
        settings_url, form_data(name="The Andes Post", **ORGANISATION_EDIT, **PAGE_CODE_EDIT)
    )
    assert response.status_code == 302, errors_of(response)
    saved = SiteSettings.objects.get()
    assert (saved.organisation_name, saved.extra_stylesheet) == (
        "Andes Media Cooperative",
        "/static/hide-donate.css",
    )
    html = reader_client.get("/").content.decode()
    assert "Jr. Lampa 123<br>Lima" in html
    assert "Read us anywhere else." in html


def test_a_logo_the_library_refuses_shows_the_form_again_with_every_other_edit(
    editor_client, settings_url, settings
):
    # The library's own limit set lower than the logo field's 2 MB: before, the form passed
    # it, the library refused it on save, and the admin said both "refused" and "changed
    # successfully" while the name edit was lost.
    settings.MEDIA_MAX_UPLOAD_BYTES = 2_000
    logo = noisy_png("masthead.png", 300, 60)
    assert logo.size > 2_000
    response = editor_client.post(
        settings_url,
        {**form_data(name="The Andes Post", tagline="News from the Andes"), "logo_upload": logo},
    )
    message = errors_of(response)
    assert "the limit is 2 KB" in message
    html = response.content.decode()
    assert "changed successfully" not in html
    assert 'value="The Andes Post"' in html
    assert 'value="News from the Andes"' in html
    assert SiteSettings.objects.count() == 0
    assert MediaItem.objects.count() == 0


def test_a_refusal_on_save_undoes_the_save_and_shows_the_form_again(
    editor_client, settings_url, monkeypatch
):
    # What the form cannot foresee (the library refusing at the moment of the save): the
    # whole save is undone and the same post shown again with the library's reason.
    from pressroom.media.models import MediaError
    from pressroom.site import services

    def refuse(*args: object, **kwargs: object) -> None:
        raise MediaError("The media store refused the file.")

    monkeypatch.setattr(services, "_add_image", refuse)
    response = editor_client.post(
        settings_url,
        {**form_data(name="The Andes Post"), "logo_upload": png_upload("masthead.png", 600, 120)},
    )
    assert "The media store refused the file." in errors_of(response)
    html = response.content.decode()
    assert "changed successfully" not in html
    assert 'value="The Andes Post"' in html
    assert SiteSettings.objects.count() == 0


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (16000, 10, "at least 32 pixels"),
        (3000, 100, "at most 10 times as wide"),
        (100, 300, "at most 2 times as tall"),
        (6000, 1000, "at most 5000 pixels"),
    ],
)
def test_a_logo_too_thin_or_too_large_to_show_is_refused(
    editor_client, settings_url, width, height, expected
):
    upload = png_upload("logo.png", width, height)
    response = editor_client.post(settings_url, {**form_data(), "logo_upload": upload})
    message = errors_of(response)
    assert expected in message
    assert f"this image is {width}×{height}" in message
    assert SiteSettings.objects.count() == 0
    assert MediaItem.objects.count() == 0


def test_a_thin_logo_chosen_from_the_library_is_refused(editor_client, settings_url):
    from pressroom.media.services import add_item_from_bytes

    banner = png_upload("banner.png", 2000, 40)
    item, _ = add_item_from_bytes(banner.read(), "banner.png", alt_text="A banner")
    response = editor_client.post(settings_url, form_data(logo=str(item.pk)))
    assert "at most 10 times as wide" in errors_of(response)
    assert SiteSettings.objects.count() == 0


@pytest.mark.parametrize(
    "colour", ["red;}</style><script>alert(1)</script>", "#b3261e;x", "var(--x)", ""]
)
def test_a_colour_that_is_not_hex_is_never_stored(colour):
    site = SiteSettings.from_environment()
    site.accent_colour = colour
    with pytest.raises(ValidationError):
        site.save()
    assert SiteSettings.objects.count() == 0


def test_a_colour_changed_behind_the_models_back_never_reaches_the_page(reader_client):
    SiteSettings.from_environment().save()
    hostile = "red}</style><script>alert(1)</script><style>"
    SiteSettings.objects.update(accent_colour=hostile[:7], accent_colour_dark="#zz;}</")
    html = reader_client.get("/").content.decode()
    assert f"--accent:{DEFAULT_ACCENT}" in html
    assert f"--accent:{DEFAULT_ACCENT_DARK}" in html
    assert "red}</s" not in html
    assert "#zz;}" not in html


def test_a_saved_colour_is_stored_as_six_hex_digits():
    site = SiteSettings.from_environment()
    site.accent_colour = "#0B5"
    site.save()
    assert SiteSettings.objects.get().accent_colour == "#00bb55"


def test_the_accent_colour_is_not_said_to_colour_links():
    # Links use --link (front/static/front/site.css); the accent is for buttons and labels.
    help_text = str(SiteSettings._meta.get_field("accent_colour").help_text)
    assert "links keep their own" in help_text
    assert "Links and buttons" not in help_text
    from django.contrib.staticfiles import finders

    css = Path(finders.find("front/site.css")).read_text(encoding="utf-8")
    assert "a { color: var(--link); }" in css
    assert ".button {" in css
    assert "background: var(--accent)" in css


def test_every_field_of_the_form_needs_one_of_the_three_permissions():
    # A setting added later must say who may change it, or every editor could.
    from pressroom.site.forms import FIELD_PERMISSIONS, SiteSettingsForm

    guarded = [field for fields in FIELD_PERMISSIONS.values() for field in fields]
    assert sorted(guarded) == sorted(set(guarded)), "each field under one permission"
    assert set(SiteSettingsForm.base_fields) == set(guarded)
