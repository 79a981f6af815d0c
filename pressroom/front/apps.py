from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "pressroom.front"
