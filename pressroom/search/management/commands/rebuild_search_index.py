from django.core.management.base import BaseCommand
from django.db import transaction

from pressroom.search.backends import index_articles


class Command(BaseCommand):
    help = "Rebuild the full-text search index of public articles (after bulk imports)."

    def handle(self, *args: object, **options: object) -> None:
        with transaction.atomic():
            count = index_articles()
        self.stdout.write(f"Indexed {count} articles.")
