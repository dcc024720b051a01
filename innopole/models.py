"""The abstract base every domain model inherits: creation and update times, and an edit version."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """`created`/`updated` on every row."""

    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class VersionedModel(TimeStampedModel):
    """A row that people edit concurrently.

    `version` goes up by one on every saved change; an edit that names the version it was based on is refused
    with a conflict when someone else saved in between (see `innopole.services.lock_for_update`).
    """

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True
