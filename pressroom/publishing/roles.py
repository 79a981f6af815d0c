"""The Editor group: what newsroom staff who are not superusers may do in the admin."""

from django.contrib.auth.models import Group, Permission

EDITOR_GROUP = "Editor"
# Editors run the newsroom: its content, its list and its campaigns, not user accounts.
EDITOR_APPS = ["publishing", "newsletter", "fundraising", "importers", "search"]


def ensure_editor_group(**kwargs: object) -> None:
    """Create or refresh the Editor group; runs after every migrate, so new models are covered."""
    group, _ = Group.objects.get_or_create(name=EDITOR_GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=EDITOR_APPS))
