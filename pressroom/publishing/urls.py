from django.urls import path

from pressroom.publishing import feeds, views

app_name = "publishing"
urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<str:slug>/", views.article_detail, name="article-detail"),
    path("topics/", views.topic_list, name="topic-list"),
    path("topics/<str:slug>/", views.topic_detail, name="topic-detail"),
    path("topics/<str:slug>/feed/", feeds.TopicFeed(), name="topic-feed"),
    path("topics/<str:slug>/feed/atom/", feeds.TopicAtomFeed(), name="topic-feed-atom"),
    path("authors/<str:slug>/", views.author_detail, name="author-detail"),
    path("feed/", feeds.LatestArticlesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestArticlesAtomFeed(), name="feed-atom"),
    path("robots.txt", views.robots_txt, name="robots-txt"),
]
