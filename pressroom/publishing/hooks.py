"""Hooks through which apps above publishing add to its pages without publishing importing them
(they register in their AppConfig.ready())."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pressroom.publishing.models import Article

# Each returns safe HTML for the foot of an article page (partners: the licence line of a
# republished piece, the "Republish this article" panel of ours), or "".
ArticleFoot = Callable[["Article"], str]
_article_feet: list[ArticleFoot] = []


def register_article_foot(provider: ArticleFoot) -> None:
    if provider not in _article_feet:
        _article_feet.append(provider)


def article_foot_html(article: Article) -> str:
    return "".join(provider(article) for provider in _article_feet)
