from django.apps import AppConfig


class FundraisingConfig(AppConfig):
    name = "pressroom.fundraising"
