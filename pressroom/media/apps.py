from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "pressroom.media"
    label = "media"
    verbose_name = "Media library"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pressroom.media import processing

        processing.configure_pillow()
