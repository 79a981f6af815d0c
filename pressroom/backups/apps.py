from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "pressroom.backups"
