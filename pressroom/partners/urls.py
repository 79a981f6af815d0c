from django.urls import path

from pressroom.partners import views

app_name = "partners"

urlpatterns = [
    path("republish/", views.republish_policy, name="republish-policy"),
]
