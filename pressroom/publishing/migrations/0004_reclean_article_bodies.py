"""Re-clean every stored article body with today's cleaner.

Bodies saved before the cleaner learned to prefix ids, strip control characters and allow only
embed players' paths keep their old HTML until they are saved again; this runs them through
`clean_body_html` once (and recomputes the excerpt that is read from the body). Reversing it is
a no-op: the old HTML is what the cleaner refuses.
"""

from __future__ import annotations

from django.db import migrations

BATCH = 500


def reclean_bodies(apps, schema_editor) -> None:
    from pressroom.publishing.html import clean_body_html, make_excerpt

    article_model = apps.get_model("publishing", "Article")
    last_id = 0
    while True:
        batch = list(
            article_model._base_manager.filter(pk__gt=last_id)
            .order_by("pk")
            .only("pk", "body", "excerpt", "editor_excerpt")[:BATCH]
        )
        if not batch:
            return
        changed = []
        for article in batch:
            body = clean_body_html(article.body or "")
            excerpt = make_excerpt(body, article.editor_excerpt)
            if body != article.body or excerpt != article.excerpt:
                article.body, article.excerpt = body, excerpt
                changed.append(article)
        article_model._base_manager.bulk_update(changed, ["body", "excerpt"])
        last_id = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("publishing", "0003_legacy_path_targets")]

    operations = [migrations.RunPython(reclean_bodies, migrations.RunPython.noop, elidable=True)]
