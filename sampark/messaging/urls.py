"""Broadcast pages and the phone simulator of the local outbox."""

from django.urls import path

from sampark.messaging import views

app_name = "messaging"
urlpatterns = [
    path("broadcasts/", views.broadcast_list, name="list"),
    path("broadcasts/new/", views.broadcast_compose, name="compose"),
    path("broadcasts/count/", views.broadcast_count, name="count"),
    path("broadcasts/preview/", views.broadcast_preview, name="preview"),
    path("broadcasts/<int:pk>/", views.broadcast_detail, name="detail"),
    path("broadcasts/<int:pk>/pause/", views.broadcast_pause, name="pause"),
    path("broadcasts/<int:pk>/resume/", views.broadcast_resume, name="resume"),
    path("broadcasts/<int:pk>/cancel/", views.broadcast_cancel, name="cancel"),
    path("simulator/", views.simulator, name="simulator"),
    path("simulator/<int:person_id>/", views.simulator_person, name="simulator-person"),
    path("simulator/<int:person_id>/send/", views.simulator_send, name="simulator-send"),
]
