from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from sampark.people.api import api

admin.site.site_header = "Sampark / संपर्क"
admin.site.site_title = "Sampark / संपर्क"
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", include("sampark.territory.urls")),
    path("", include("sampark.people.urls")),
    path("", include("sampark.messaging.urls")),
    path("", include("sampark.content.urls")),
    path("", include("sampark.streams.urls")),
    path("", include("sampark.feed.urls")),
    path("api/", api.urls),
    path("webhooks/", include("sampark.transports.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
