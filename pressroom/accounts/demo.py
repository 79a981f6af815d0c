"""The demo editor of `pressroom demo` holds the newsroom's roles, so `make run` shows it all."""

from django.contrib.auth.models import AbstractBaseUser, Group

from pressroom.accounts.roles import ADMINISTRATOR, CONTRIBUTOR, ROLES


def give_demo_editor_roles(user: AbstractBaseUser) -> str:
    # Not Contributor either: everything it may do, the Editor role does on every article.
    names = [role.name for role in ROLES if role not in (ADMINISTRATOR, CONTRIBUTOR)]
    user.groups.add(  # type: ignore[attr-defined]  # the project's User has groups
        *Group.objects.filter(name__in=names)
    )
    return f"Demo editor roles: {', '.join(names)} (not {ADMINISTRATOR.name})."
