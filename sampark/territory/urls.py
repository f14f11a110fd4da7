from django.urls import path

from sampark.territory import views

app_name = "territory"
urlpatterns = [
    path("", views.home, name="home"),
]
