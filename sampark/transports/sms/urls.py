from django.urls import path

from .webhook import sms

urlpatterns = [path("", sms, name="sms")]
