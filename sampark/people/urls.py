"""People and coverage pages. Coverage units are addressed as ``coverage.unit_key`` spells them
(``/coverage/district/233/``, ``/coverage/booth/12-34A/``, ``/coverage/block/%2317/`` for ``block:#17``)."""

from django.urls import path

from sampark.people import views

app_name = "people"
urlpatterns = [
    path("people/", views.people_list, name="list"),
    path("people/export.csv", views.people_export, name="export"),
    path("people/<int:pk>/", views.person_detail, name="detail"),
    path("people/<int:pk>/contact/<int:point_id>/withdraw/", views.consent_withdraw, name="consent-withdraw"),
    path("people/<int:pk>/withdraw-all/", views.consent_withdraw_all, name="consent-withdraw-all"),
    path("people/<int:pk>/posts/<int:post_id>/end/", views.post_end, name="post-end"),
    path("coverage/", views.coverage_home, name="coverage"),
    path("coverage/<str:kind>/<str:ident>/", views.coverage_detail, name="coverage-unit"),
    path("coverage/<str:kind>/<str:ident>/gaps/", views.coverage_gaps, name="coverage-gaps"),
]
