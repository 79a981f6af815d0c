from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "pressroom.partners"
    verbose_name = "Partners"
