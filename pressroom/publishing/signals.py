"""Signals other apps listen to instead of being called from publishing's services."""

from django.dispatch import Signal

# Sent after commit whenever what readers can see may have changed (an article saved,
# published, unpublished or deleted; a topic or author edited). Arguments: `article_ids`.
content_changed = Signal()

# Sent inside the transaction that wrote or deleted articles (publishing's services), so that a
# copy kept elsewhere (the search index) commits or rolls back with the rows: an import killed
# mid-batch leaves neither. Arguments: `article_ids`, and `articles`: the Article instances as
# written (cleaned, excerpt computed) when the write has them, None for a deletion.
articles_written = Signal()
