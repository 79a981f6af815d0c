"""Background work for publishing: review emails. Tasks take ids and are safe to run twice."""

from __future__ import annotations

from django.tasks import task

from pressroom.publishing import reviews


@task()
def send_review_email(comment_id: int) -> bool:
    """Tell the other side of a review about one step (a submission, a send-back, ...)."""
    return reviews.deliver_review_email(comment_id)
