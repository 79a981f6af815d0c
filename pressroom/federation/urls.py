from django.urls import path

from pressroom.federation import views

app_name = "federation"

urlpatterns = [
    path(".well-known/webfinger", views.webfinger, name="webfinger"),
    path(".well-known/nodeinfo", views.nodeinfo_links, name="nodeinfo-links"),
    path("nodeinfo/2.1", views.nodeinfo, name="nodeinfo"),
    path("fediverse/inbox", views.inbox, {"shared": True}, name="shared-inbox"),
    path("fediverse/actor", views.actor, name="site-actor"),
    path("fediverse/actor/inbox", views.inbox, name="site-inbox"),
    path("fediverse/actor/outbox", views.outbox, name="site-outbox"),
    path("fediverse/actor/followers", views.followers, name="site-followers"),
    path("fediverse/topics/<int:topic_id>", views.actor, name="topic-actor"),
    path("fediverse/topics/<int:topic_id>/inbox", views.inbox, name="topic-inbox"),
    path("fediverse/topics/<int:topic_id>/outbox", views.outbox, name="topic-outbox"),
    path("fediverse/topics/<int:topic_id>/followers", views.followers, name="topic-followers"),
    path("fediverse/articles/<int:article_id>", views.article_object, name="article"),
]
