from django.urls import path

from pressroom.front import views

app_name = "front"
urlpatterns: list = [
    path("manifest.webmanifest", views.web_app_manifest, name="manifest"),
    path("favicon.ico", views.favicon, name="favicon"),
]
