from django.urls import path, register_converter

from pressroom.publishing import feeds, views
from pressroom.publishing.converters import SlugConverter

register_converter(SlugConverter, "pressroom-slug")

app_name = "publishing"
urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<pressroom-slug:slug>/", views.article_detail, name="article-detail"),
    path("preview/<str:token>/", views.preview_link, name="preview-link"),
    path("topics/", views.topic_list, name="topic-list"),
    path("topics/<pressroom-slug:slug>/", views.topic_detail, name="topic-detail"),
    path("topics/<pressroom-slug:slug>/feed/", feeds.TopicFeed(), name="topic-feed"),
    path("topics/<pressroom-slug:slug>/feed/atom/", feeds.TopicAtomFeed(), name="topic-feed-atom"),
    path("authors/<pressroom-slug:slug>/", views.author_detail, name="author-detail"),
    path("authors/<pressroom-slug:slug>/feed/", feeds.AuthorFeed(), name="author-feed"),
    path(
        "authors/<pressroom-slug:slug>/feed/atom/", feeds.AuthorAtomFeed(), name="author-feed-atom"
    ),
    path("archive/<int:year>/", views.date_archive, name="archive-year"),
    path("archive/<int:year>/<int:month>/", views.date_archive, name="archive-month"),
    path("archive/<int:year>/<int:month>/<int:day>/", views.date_archive, name="archive-day"),
    path("corrections/", views.correction_list, name="correction-list"),
    path("corrections/feed/", feeds.CorrectionsFeed(), name="corrections-feed"),
    path("feed/", feeds.LatestArticlesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestArticlesAtomFeed(), name="feed-atom"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
]
