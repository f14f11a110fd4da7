from django.urls import path

from .webhook import telegram

urlpatterns = [path("", telegram, name="telegram")]
