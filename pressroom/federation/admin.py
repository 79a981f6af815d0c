from django.contrib import admin

from pressroom.federation.models import Follower, Instance


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    """Servers we deliver to; a dead one gets nothing until it posts to us again."""

    list_display = ("domain", "dead_since", "failing_since", "last_delivered_at", "last_error")
    list_filter = (("dead_since", admin.EmptyFieldListFilter),)
    search_fields = ("domain",)
    readonly_fields = ("domain", "failing_since", "last_delivered_at", "last_error")
    actions = ["revive"]

    @admin.action(description="Deliver to these instances again")
    def revive(self, request, queryset) -> None:
        revived = queryset.filter(dead_since__isnull=False).update(
            dead_since=None, failing_since=None
        )
        self.message_user(request, f"{revived} instance(s) will get deliveries again.")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Follower)
class FollowerAdmin(admin.ModelAdmin):
    list_display = ("actor_url", "followed", "domain", "created_at")
    list_filter = ("followed",)
    search_fields = ("actor_url", "domain")
    readonly_fields = [field.name for field in Follower._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
