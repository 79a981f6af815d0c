from django.contrib.sitemaps import Sitemap

from pressroom.publishing.models import Article, Author, Page, Topic


class ArticleSitemap(Sitemap):
    limit = 5000
    protocol = None

    def items(self):
        return Article.objects.published().newest_first().only("slug", "updated_at")

    def lastmod(self, item: Article):
        return item.updated_at


class TopicSitemap(Sitemap):
    changefreq = "daily"

    def items(self):
        return Topic.objects.order_by("slug").only("slug")


class AuthorSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Author.objects.order_by("slug").only("slug")


class PageSitemap(Sitemap):
    changefreq = "monthly"

    def items(self):
        return Page.objects.published().in_sitemap().order_by("path").only("path", "updated_at")

    def lastmod(self, item: Page):
        return item.updated_at


SITEMAPS = {
    "articles": ArticleSitemap,
    "topics": TopicSitemap,
    "authors": AuthorSitemap,
    "pages": PageSitemap,
}
