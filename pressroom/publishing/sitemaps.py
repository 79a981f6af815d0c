from django.contrib.sitemaps import Sitemap

from pressroom.publishing.models import Article, Author, Topic


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


SITEMAPS = {"articles": ArticleSitemap, "topics": TopicSitemap, "authors": AuthorSitemap}
