"""Provider webhooks, one module per provider, under /webhooks/<kind>/."""

from django.urls import include, path

app_name = "webhooks"

urlpatterns = [
    path("whatsapp/", include("sampark.transports.whatsapp.urls")),
    path("telegram/", include("sampark.transports.telegram.urls")),
    path("sms/", include("sampark.transports.sms.urls")),
]
