from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "sampark.people"
    label = "people"
    verbose_name = _("People")
    # Import kinds this app adds to `sampark import` (dotted paths; the territory registry collects them).
    importers = ("sampark.people.importers.VolunteerImport",)
    # Adds volunteers to `sampark demo` (called by territory.demo.build_demo inside its transaction).
    demo = "sampark.people.demo.build_people"
    # Posts and coverage rows copy their booth's block and panchayat: re-copied when links change.
    booth_links_changed = "sampark.people.services.refresh_placements"
