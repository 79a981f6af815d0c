"""`python -m pressroom.importers.tests.media_check`: the media an import brought home into the
database in DATABASE_URL (and its storage), as JSON. Run by test_import_media_resume.py in a
process of its own, against the database a killed import wrote to."""

import json
import os
from collections import Counter


def state() -> dict[str, object]:
    from django.core.files.storage import default_storage

    from pressroom.importers.models import ImportedItem
    from pressroom.media.models import MediaItem
    from pressroom.publishing.models import Article, LegacyPath

    hashes = Counter(MediaItem.objects.values_list("content_hash", flat=True))
    attachments = ImportedItem.objects.filter(kind="attachment")
    try:
        folders, _ = default_storage.listdir("originals")
    except FileNotFoundError:
        folders = []
    return {
        "items": MediaItem.objects.count(),
        "duplicated_hashes": sum(1 for n in hashes.values() if n > 1),
        "attachments": attachments.count(),
        "attachments_without_item": attachments.filter(media_item__isnull=True).count(),
        "articles": Article.objects.count(),
        "articles_without_lead_image": Article.objects.filter(lead_image__isnull=True).count(),
        "bodies_at_old_uploads": Article.objects.filter(
            body__contains="wp-content/uploads"
        ).count(),
        "upload_redirects": LegacyPath.objects.filter(media_item__isnull=False).count(),
        "stored_originals": len(folders),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    import django

    django.setup()
    print(json.dumps(state()))
