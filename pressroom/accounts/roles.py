"""Staff roles: which admin data each kind of newsroom worker may see and change.

This is the one place roles are defined. A role is a Django group; a person may hold several.
The groups are created by a data migration and their permissions are set again after every
`migrate` (`sync_roles`), so a new model's permissions reach its role, and a permission taken
out of a role here is taken away from the group too.

To add a role, add a Role below with the apps it owns and/or single permissions
("app_label.codename"); the next `migrate` creates it (Contributor is one made of single
permissions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    # Every permission of these apps' models.
    apps: tuple[str, ...] = ()
    # Single permissions, "app_label.codename", on top of the apps'.
    permissions: tuple[str, ...] = ()
    # Every permission there is (users and groups included).
    everything: bool = False
    # Permissions of `apps` that this role must not hold, "app_label.codename".
    excluded: tuple[str, ...] = field(default=())


EDITOR = Role(
    "Editor",
    "Content: articles, topics, authors, pages, imports, partners and the search index; the "
    "site's name, tagline, images, colours and links (not the organisation's name and address, "
    "the footer text or an extra stylesheet).",
    apps=("publishing", "media", "importers", "partners", "search", "site"),
    permissions=("insight.view_pageview",),
    excluded=("site.change_organisation", "site.change_page_code"),
)
AUDIENCE = Role(
    "Audience",
    "Subscribers and digests: the list, its imports and exports, sending and progress.",
    apps=("newsletter",),
    permissions=("insight.view_pageview",),
)
FUNDRAISING = Role(
    "Fundraising",
    "Campaigns, donors, donations, processor events and fundraising reports; the "
    "organisation's name and postal address in the site settings (sent to the processor, "
    "printed on receipts).",
    apps=("fundraising",),
    permissions=(
        "site.view_sitesettings",
        "site.change_sitesettings",
        "site.change_organisation",
        "insight.view_pageview",
    ),
)
CONTRIBUTOR = Role(
    "Contributor",
    "Writes their own drafts and submits them for review; cannot publish, schedule or edit "
    "others' articles (publishing/admin.py keeps them to their own drafts); describes (alt "
    "text, caption, credit) the library items they uploaded (media/admin.py).",
    # Without publishing.publish_article: that is what makes the admin treat them as one.
    permissions=(
        "publishing.add_article",
        "publishing.change_article",
        "publishing.view_article",
        "publishing.view_topic",
        "publishing.view_author",
        "media.view_mediaitem",
        "media.add_mediaitem",
    ),
)
ADMINISTRATOR = Role(
    "Administrator",
    "Everything, including staff accounts and their roles.",
    everything=True,
)

ROLES: tuple[Role, ...] = (EDITOR, CONTRIBUTOR, AUDIENCE, FUNDRAISING, ADMINISTRATOR)


def role_permissions(role: Role, permission_model: Any, using: str = "default") -> list:
    """The Permission rows `role` holds, from the given (possibly historical) model."""
    permissions = permission_model.objects.using(using).select_related("content_type")
    if role.everything:
        return list(permissions.all())
    wanted_apps = set(role.apps) | {dotted.split(".", 1)[0] for dotted in role.permissions}
    return [
        permission
        for permission in permissions.filter(content_type__app_label__in=wanted_apps)
        if _holds(role, f"{permission.content_type.app_label}.{permission.codename}")
    ]


def _holds(role: Role, dotted: str) -> bool:
    if dotted in role.excluded:
        return False
    return dotted.split(".", 1)[0] in role.apps or dotted in role.permissions


def sync_roles(group_model: Any, permission_model: Any, using: str = "default") -> None:
    """Create every role's group and give it exactly the role's permissions.

    The models are Django's Group and Permission, or their historical versions in a migration.
    """
    for role in ROLES:
        group, _ = group_model.objects.using(using).get_or_create(name=role.name)
        group.permissions.set(role_permissions(role, permission_model, using))


def sync_roles_after_migrate(using: str = "default", **kwargs: object) -> None:
    """After every app's migrate: an app's permissions exist only after its own post_migrate,
    and apps listed later in INSTALLED_APPS migrate later."""
    from django.contrib.auth.models import Group, Permission

    sync_roles(Group, Permission, using)
