"""Signals other apps listen to instead of being called from publishing's services."""

from django.dispatch import Signal

# Sent after commit whenever what readers can see may have changed (an article saved,
# published, unpublished or deleted; a topic or author edited). Arguments: `article_ids`.
content_changed = Signal()
