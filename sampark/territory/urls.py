"""Territory browser URLs: official codes where every unit has one, primary keys where some lack it."""

from django.urls import path

from sampark.territory import views

app_name = "territory"
urlpatterns = [
    path("", views.home, name="home"),
    path("state/<int:lgd_code>/", views.state_detail, name="state"),
    path("district/<int:lgd_code>/", views.district_detail, name="district"),
    path("ac/<int:state_lgd>/<int:number>/", views.ac_detail, name="ac"),
    # Blocks and panchayats may lack an LGD code, so their pages live at the primary key; an LGD code
    # redirects there when there is one.
    path("block/<int:pk>/", views.block_detail, name="block"),
    path("block/lgd/<int:lgd_code>/", views.block_by_lgd, name="block-lgd"),
    path("panchayat/<int:pk>/", views.panchayat_detail, name="panchayat"),
    path("panchayat/lgd/<int:lgd_code>/", views.panchayat_by_lgd, name="panchayat-lgd"),
    path("booth/<int:state_lgd>/<str:code>/", views.booth_detail, name="booth"),
]
