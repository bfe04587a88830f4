"""The `careway` console command: Django's management commands under one name."""

import os
import sys

# Hyphenated names for commands whose module names cannot have hyphens.
ALIASES = {
    "import-fhir": "import_fhir",
    "recompute-goals": "recompute_goals",
    "refresh-suggestions": "refresh_suggestions",
}


# The routing engine's commands: a plain library, run without starting Django.
PLAIN = ("route", "bench")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in PLAIN:
        from careway.routing.cli import main as routing

        sys.exit(routing(sys.argv[1:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careway.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    named = 2 if argv[1:2] == ["help"] else 1  # `careway import-fhir`, `careway help import-fhir`
    if len(argv) > named:
        argv[named] = ALIASES.get(argv[named], argv[named])
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
