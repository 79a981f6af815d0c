"""The demo editor of `pressroom demo` holds the newsroom's roles, so `make run` shows it all."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from pressroom.accounts.roles import ADMINISTRATOR, ROLES

DEMO_EDITOR_USERNAME = "editor"


def give_demo_editor_roles() -> str:
    user = get_user_model().objects.filter(username=DEMO_EDITOR_USERNAME).first()
    if user is None:
        return "No demo editor account."
    names = [role.name for role in ROLES if role is not ADMINISTRATOR]
    user.groups.add(*Group.objects.filter(name__in=names))
    return f"Demo editor roles: {', '.join(names)} (not {ADMINISTRATOR.name})."
