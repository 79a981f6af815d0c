from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Staff roles, the admin sign-in limit and the shared counters of every abuse limit."""

    name = "pressroom.accounts"

    def ready(self) -> None:
        from pressroom.accounts import login
        from pressroom.accounts.limits import DatabaseCounterStore
        from pressroom.accounts.roles import sync_roles_after_migrate
        from pressroom.lib import ratelimit

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts-sync-roles")
        ratelimit.register_store(DatabaseCounterStore())
        login.install()
