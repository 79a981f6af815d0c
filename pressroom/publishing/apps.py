from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "pressroom.publishing"
