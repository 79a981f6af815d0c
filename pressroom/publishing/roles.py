"""The Editor group: what newsroom staff who are not superusers may do in the admin."""

from django.apps import AppConfig
from django.contrib.auth.models import Group, Permission

EDITOR_GROUP = "Editor"
# Editors run the newsroom: its content, its list and its campaigns, not user accounts.
EDITOR_APPS = ["media", "publishing", "newsletter", "fundraising", "importers", "search"]


def ensure_editor_group(
    app_config: AppConfig | None = None, using: str = "default", **kwargs: object
) -> None:
    """Create or refresh the Editor group after every app's migrate.

    It listens to every app, not only publishing: an app's permissions exist only after its
    own post_migrate, and apps listed after publishing in INSTALLED_APPS migrate later.
    """
    if app_config is not None and app_config.label not in EDITOR_APPS:
        return
    group, _ = Group.objects.using(using).get_or_create(name=EDITOR_GROUP)
    group.permissions.add(
        *Permission.objects.using(using).filter(content_type__app_label__in=EDITOR_APPS)
    )
