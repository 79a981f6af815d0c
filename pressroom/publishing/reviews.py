"""Review emails: each step of an article's review is told to the other side.

A contributor's submission (and their comments) go to the editors, everyone who may publish;
an editor's comment, send-back or publication goes to the article's writer. Sent by the task
worker (publishing.tasks.send_review_email), never inside the editor's request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from pressroom.lib.email import send_email
from pressroom.publishing.models import Article, ReviewComment

REVIEW_TEMPLATE = "publishing/emails/review"


def reviewers() -> Any:
    """Active staff who may publish (and so review): the Editor and Administrator roles."""
    app_label, codename = Article.PUBLISH_PERMISSION.split(".")
    permission = Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).first()
    holds = Q(is_superuser=True)
    if permission is not None:
        holds |= Q(groups__permissions=permission) | Q(user_permissions=permission)
    return get_user_model().objects.filter(holds, is_active=True, is_staff=True).distinct()


def recipients_of(comment: ReviewComment) -> list[str]:
    """A submission, or the writer's own comment, goes to the editors (never the one who
    acted); every other step (an editor's comment, a send-back, a publication) to the writer,
    the article's creator, and to no one when that account is gone or inactive."""
    writer = comment.article.created_by
    by_writer = writer is not None and comment.created_by_id == writer.pk
    if comment.action == ReviewComment.Action.SUBMITTED or by_writer:
        others = reviewers().exclude(pk=comment.created_by_id).exclude(email="")
        return sorted(set(others.values_list("email", flat=True)))
    if writer is None or not writer.is_active or not writer.email:
        return []
    return [writer.email]


def _name(user: Any) -> str:
    if user is None:
        return "Someone"
    return user.get_full_name() or user.get_username()


def deliver_review_email(comment_id: int) -> bool:
    """Email one review step unless it went already; False when there was nothing to send.
    The claim on the row is rolled back if sending fails, so the next run sends it."""
    with transaction.atomic():
        claimed = (
            ReviewComment.objects.select_for_update()
            .filter(pk=comment_id, notified_at__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if claimed is None:
            return False
        comment = ReviewComment.objects.select_related(
            "article", "article__created_by", "created_by"
        ).get(pk=claimed)
        to = recipients_of(comment)
        if not to:
            return False
        change_path = reverse("admin:publishing_article_change", args=[comment.article_id])
        context = {
            "comment": comment,
            "article": comment.article,
            "actor": _name(comment.created_by),
            "action": comment.get_action_display(),
            "article_url": settings.SITE_URL + change_path,
            "queue_url": settings.SITE_URL + reverse("admin:publishing_article_review_queue"),
        }
        send_email(to, REVIEW_TEMPLATE, context)
        comment.notified_at = timezone.now()
        comment.save(update_fields=["notified_at"])
        return True
