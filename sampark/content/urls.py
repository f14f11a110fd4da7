"""Content library pages."""

from django.urls import path

from sampark.content import views

app_name = "content"
urlpatterns = [
    path("content/", views.item_list, name="list"),
    path("content/new/", views.item_create, name="create"),
    path("content/import/", views.item_import, name="import"),
    path("content/<int:pk>/", views.item_detail, name="detail"),
    path("content/<int:pk>/edit/", views.item_edit, name="edit"),
    path("content/<int:pk>/submit/", views.item_submit, name="submit"),
    path("content/<int:pk>/approve/", views.item_approve, name="approve"),
    path("content/<int:pk>/send-back/", views.item_send_back, name="send-back"),
    path("content/<int:pk>/retire/", views.item_retire, name="retire"),
]
