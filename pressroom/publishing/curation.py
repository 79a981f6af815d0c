"""What editors choose for the site's shape: the home page's lead and featured stories, and the
header and footer menus. (Models, imported by models.py, so they name Article and Topic by
their labels instead of importing them back. Reads for pages: listings.py.)"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

# How many featured stories the home page shows beside the lead.
HOME_FEATURED_COUNT = 4
# Editors place a handful of stories: the home page never reads more slots than this.
HOME_SLOTS_READ = 200
# Bounds on what editors type into a menu.
MENU_LABEL_MAX_LENGTH = 60
MENU_URL_MAX_LENGTH = 500
MENU_MAX_ITEMS = 30

BAD_MENU_URL = (
    "Enter a web address starting with http:// or https://, or a path on this site "
    "starting with / (such as /topics/)."
)


def validate_menu_url(value: str) -> None:
    """A web address (http or https) or a path on this site: nothing a browser would run
    (javascript:, data:) and no protocol-relative //host that leaves the site unannounced."""
    if len(value) > MENU_URL_MAX_LENGTH:
        raise ValidationError(BAD_MENU_URL, code="invalid")
    if value.startswith("/"):
        path_is_clean = not value.startswith("//") and value.isprintable() and " " not in value
        if path_is_clean and "\\" not in value:
            return
        raise ValidationError(BAD_MENU_URL, code="invalid")
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError(BAD_MENU_URL, code="invalid") from None
    if "@" in urlsplit(value).netloc:
        # https://ourpaper.example@evil.example/ reads as ours and goes to evil.example.
        raise ValidationError(BAD_MENU_URL, code="invalid")


class HomeSlotQuerySet(models.QuerySet["HomeSlot"]):
    def in_order(self) -> HomeSlotQuerySet:
        return self.order_by("-placement", "position", "id")  # "lead" sorts after "featured"

    def next_change_after(self, now: datetime) -> datetime | None:
        """The next moment a slot expires: the home page changes then without a save."""
        return (
            self.filter(expires_at__gt=now)
            .order_by("expires_at")
            .values_list("expires_at", flat=True)
            .first()
        )


class HomeSlot(models.Model):
    """One story an editor put on the home page: the lead (the first lead still showing is
    used; a later one takes over when it expires) or one of the featured stories."""

    class Placement(models.TextChoices):
        LEAD = "lead", "Lead story"
        FEATURED = "featured", "Featured"

    article = models.OneToOneField(
        "publishing.Article", on_delete=models.CASCADE, related_name="home_slot"
    )
    placement = models.CharField(max_length=10, choices=Placement, default=Placement.FEATURED)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")
    expires_at = models.DateTimeField(
        "shown until",
        null=True,
        blank=True,
        help_text="Leave empty to keep it until you remove it. After this moment the newest "
        "stories take its place.",
    )

    objects = HomeSlotQuerySet.as_manager()

    class Meta:
        ordering = ["-placement", "position", "id"]  # the lead first
        verbose_name = "home page story"
        verbose_name_plural = "home page stories"

    def __str__(self) -> str:
        return f"{self.get_placement_display()}: {self.article}"

    @property
    def is_showing(self) -> bool:
        now = timezone.now()
        return (self.expires_at is None or self.expires_at > now) and self.article.is_public


class Menu(models.Model):
    """The header or the footer menu: its items, in order."""

    class Location(models.TextChoices):
        HEADER = "header", "Header"
        FOOTER = "footer", "Footer"

    location = models.CharField(max_length=10, choices=Location, unique=True)

    class Meta:
        ordering = ["location"]

    def __str__(self) -> str:
        return f"{self.get_location_display()} menu"


class MenuItemQuerySet(models.QuerySet["MenuItem"]):
    def in_menus(self) -> MenuItemQuerySet:
        """Every menu's items, menu by menu, each in the editor's order."""
        return self.order_by("menu__location", "position", "id")

    def of_menu(self, location: str) -> MenuItemQuerySet:
        """A menu's items in the editor's order, with their topics."""
        return self.in_menus().filter(menu__location=location).select_related("topic", "page")


class MenuItem(models.Model):
    """One link of a menu. Its target is one of TARGET_FIELDS: a topic, a page, or any address."""

    # The fields that can hold an item's target; exactly one is filled. A new kind of target is
    # one more nullable foreign key here, in `target_url`, in listings.menu_links and in the
    # admin's fields.
    TARGET_FIELDS = ("topic", "page", "url")

    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(
        max_length=MENU_LABEL_MAX_LENGTH,
        blank=True,
        help_text="What readers see. Empty: the topic's name.",
    )
    topic = models.ForeignKey("publishing.Topic", null=True, blank=True, on_delete=models.CASCADE)
    # Shown while the page is published; follows it when it moves (its path is read each time).
    page = models.ForeignKey("publishing.Page", null=True, blank=True, on_delete=models.CASCADE)
    url = models.CharField(
        "address",
        max_length=MENU_URL_MAX_LENGTH,
        blank=True,
        validators=[validate_menu_url],
        help_text="https://… or a path on this site such as /topics/.",
    )

    objects = MenuItemQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text or self.url

    def clean(self) -> None:
        filled = [name for name in self.TARGET_FIELDS if getattr(self, _attribute(name))]
        if len(filled) != 1:
            raise ValidationError(
                "Choose one target: a topic, a page or an address.", code="target"
            )
        if self.url and not self.label.strip():
            raise ValidationError({"label": "An address needs a label readers will see."})

    @property
    def text(self) -> str:
        if self.label.strip():
            return self.label.strip()
        if self.page_id and self.page:
            return self.page.title  # type: ignore[union-attr]
        return self.topic.name if self.topic_id and self.topic else ""  # type: ignore[union-attr]

    def target_url(self) -> str:
        if self.topic_id:
            return self.topic.get_absolute_url()  # type: ignore[union-attr]
        if self.page_id:
            return self.page.get_absolute_url()  # type: ignore[union-attr]
        return self.url


def _attribute(field_name: str) -> str:
    """The attribute that tells whether a target field is filled without reading the row."""
    return f"{field_name}_id" if field_name != "url" else field_name
