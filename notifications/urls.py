from django.urls import path

from notifications import views

urlpatterns = [
    path("profile/email/", views.email_settings, name="email-settings"),
]
