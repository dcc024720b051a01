"""Loads the demo campus (data/innopole-demo.json) through the services. Idempotent: a second run changes nothing."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from planning.demo import DemoLoad
from planning.models import Campus

DEFAULT_PASSWORD = "innopole-demo"


class Command(BaseCommand):
    help = "Load the INNOPOLE demo campus, its partners and tenants, and create the demo users. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (not for production).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already holds a campus."
        )
        parser.add_argument("--path", default=str(settings.DEMO_DATA_PATH), help="The demo data file.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: this looks like a real deployment. Use --force to load demo data anyway.")
        if options["if_empty"] and Campus.objects.exists():
            self.stdout.write("The database already holds a campus: demo data not loaded (--if-empty).")
            return
        path = Path(options["path"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read demo data from {path}: {error}") from error
        password = os.environ.get("DEMO_PASSWORD")
        if not password:
            password = DEFAULT_PASSWORD
            self.stdout.write(f"DEMO_PASSWORD is not set: demo users get the password '{password}'.")
        load = DemoLoad(data, password)
        with transaction.atomic():
            load.run()
        summary = ", ".join(f"{count} {what}" for what, count in sorted(load.counts.items())) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
