from django.urls import path

from pressroom.newsletter import views

app_name = "newsletter"
urlpatterns = [
    path("digest/", views.signup, name="signup"),
    path("digest/thanks/", views.signup_done, name="signup-done"),
    path("digest/confirm/<str:token>/", views.confirm, name="confirm"),
    path("digest/preferences/<str:token>/", views.preferences, name="preferences"),
    path("digest/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("digest/archive/", views.digest_archive, name="digest-list"),
    path("digest/email/<int:pk>/", views.email_detail, name="email-detail"),
    path("digest/<str:date>/", views.digest_detail, name="digest-detail"),
    # Bounce and complaint webhooks of the configured ESP only (django-anymail), authenticated.
    path(
        "anymail/<slug:provider>/tracking/",
        views.email_provider_webhook,
        name="email-provider-webhook",
    ),
]
