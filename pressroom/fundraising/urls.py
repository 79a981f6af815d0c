from django.urls import path

from pressroom.fundraising import views

app_name = "fundraising"
urlpatterns = [
    path("donate/", views.donate, name="donate"),
    path("donate/thanks/", views.thanks, name="thanks"),
    path("donate/cancelled/", views.cancelled, name="cancelled"),
    path("donate/manage/", views.manage, name="manage"),
    path("donate/portal/<str:token>/", views.portal, name="portal"),
    path(
        "donate/portal/<str:token>/cancel/<int:recurring_id>/",
        views.portal_cancel,
        name="portal-cancel",
    ),
    path(
        "donate/portal/<str:token>/amount/<int:recurring_id>/",
        views.portal_change_amount,
        name="portal-change-amount",
    ),
    path(
        "donate/portal/<str:token>/statement/<int:year>/",
        views.portal_statement,
        name="portal-statement",
    ),
    path("donate/card/<str:token>/", views.update_card, name="update-card"),
    path("donate/move/<str:token>/", views.move, name="move"),
    path("donate/<slug:slug>/", views.donate, name="donate-campaign"),
    path("fundraising/<str:provider>/webhook/", views.webhook, name="webhook"),
]
