"""Recompute phase readiness now: the stale phases (default), one phase number, or every phase."""

from django.core.management.base import BaseCommand, CommandError

from planning import services
from planning.models import Phase, ReadinessSweep

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Recompute readiness: stale phases by default, --phase N for one phase number, --all for every phase."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--phase", type=int, metavar="N", help="Only phases numbered N (in every campus).")
        which.add_argument("--all", action="store_true", help="Every phase, stale or not.")
        parser.add_argument("--campus", metavar="CODE", help="Only phases of this campus (with --phase).")

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        end = "\n" if done == total else "\r"
        self.stdout.write(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} phases", ending=end)
        self.stdout.flush()

    def handle(self, *args, **options):
        if options["phase"] is not None:
            phases = Phase.objects.filter(number=options["phase"]).order_by("campus__code")
            if options["campus"]:
                phases = phases.filter(campus__code=options["campus"])
            phases = list(phases)
            if not phases:
                raise CommandError(f"No phase numbered {options['phase']}.")
            for done, phase in enumerate(phases, start=1):
                snapshot = services.readiness_recompute(phase=phase)
                self._progress(done, len(phases))
                self.stdout.write(
                    f"{phase.campus.code} {phase.name_en}: {snapshot.get_state_display()} ({snapshot.score})"
                )
            return
        kind = ReadinessSweep.Kind.ALL if options["all"] else ReadinessSweep.Kind.STALE
        count = services.readiness_sweep(kind=kind, on_progress=self._progress)
        self.stdout.write(self.style.SUCCESS(f"Recomputed {count} phase(s)."))
