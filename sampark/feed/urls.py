"""The volunteer feed under ``/f/<token>/`` (no login), and the coordinator pages for links and
click-to-chat assignments. The feed's templates link relatively (``share/…``, ``poll/``): keep the paths
below ``f/<token>/`` one and two segments deep as they are."""

from django.urls import path

from sampark.feed import views

app_name = "feed"
urlpatterns = [
    path("f/<str:token>/", views.feed_page, name="page"),
    path("f/<str:token>/poll/", views.feed_poll, name="poll"),
    path("f/<str:token>/share/<int:tick_id>/<str:target>/", views.feed_share, name="share"),
    path("f/<str:token>/ack/<int:tick_id>/", views.feed_ack, name="ack"),
    path("f/<str:token>/chat/<int:contact_id>/", views.feed_chat, name="chat"),
    path("f/<str:token>/mark/<int:contact_id>/", views.feed_mark, name="mark"),
    path("feed/links/<int:person_id>/", views.link_manage, name="link"),
    path("assignments/", views.assignment_list, name="assignments"),
    path("assignments/new/", views.assignment_create, name="assignment-new"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment"),
]
