"""Stream pages and the war room."""

from django.urls import path

from sampark.streams import views

app_name = "streams"
urlpatterns = [
    path("streams/", views.stream_list, name="list"),
    path("streams/new/", views.stream_create, name="create"),
    path("streams/items/", views.stream_items, name="items"),
    path("streams/<int:pk>/", views.stream_detail, name="detail"),
    path("streams/<int:pk>/pause/", views.stream_pause, name="pause"),
    path("streams/<int:pk>/resume/", views.stream_resume, name="resume"),
    path("war-room/", views.war_room, name="war-room"),
]
