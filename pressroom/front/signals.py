from django.core.cache import cache
from django.dispatch import receiver

from pressroom.front.context_processors import NAVIGATION_CACHE_KEY
from pressroom.publishing.signals import content_changed


@receiver(content_changed)
def forget_navigation(**kwargs: object) -> None:
    cache.delete(NAVIGATION_CACHE_KEY)
