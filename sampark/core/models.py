"""Base models shared by every app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Lease(models.Model):
    """A named lease: who runs one piece of once-per-deployment work (a loop, a periodic job), until
    when. The owner names one *run* of that work (a loop instance), never a process: two loops in one
    process are two owners, so at most one of them can believe it holds the lease."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=80, blank=True)
    until = models.DateTimeField(null=True)
    taken_at = models.DateTimeField(null=True)
    # How many times the lease changed hands (a new owner took it): handovers, restarts, failovers.
    takeovers = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.owner} until {self.until}"
