from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "pressroom.workers"
    verbose_name = "Task workers"
