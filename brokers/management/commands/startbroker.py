"""``manage.py startbroker NAME``: a new broker package in the house layout (brokers/NAME/),
from the templates in brokers/scaffold/. It then joins the registry, and the contract suite,
when settings.BROKERS lists it."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

BROKERS_DIR = Path(__file__).resolve().parents[2]
SCAFFOLD = BROKERS_DIR / "scaffold"
SUFFIX = "-tpl"
NAME_RULE = re.compile(r"^[a-z][a-z0-9]{1,31}$")
# Names taken by the brokers package itself, or that would shadow a module people import.
RESERVED = {"base", "enums", "models", "registry", "selectors", "symbols", "login", "contracts", "scaffold",
            "management", "migrations", "tests", "sandbox", "streaming", "ratelimit", "optionmath", "apps",
            "conftest", "testing"}


def check_name(name: str, target: Path) -> None:
    if not NAME_RULE.match(name):
        raise CommandError(f"Broker name {name!r} must be 2-32 lowercase letters and digits, starting with a letter")
    if keyword.iskeyword(name) or name in RESERVED:
        raise CommandError(f"Broker name {name!r} is reserved")
    if (target / name).exists():
        raise CommandError(f"{target / name} already exists: pick another name or remove it first")
    if (target / f"{name}.py").exists():
        raise CommandError(f"Broker name {name!r} is reserved: brokers/{name}.py is a module of the contract")


def render(text: str, name: str) -> str:
    return text.replace("{{name}}", name).replace("{{Name}}", name.capitalize()).replace("{{NAME}}", name.upper())


def scaffold(name: str, target: Path) -> list[Path]:
    """Write brokers/<name>/ from the templates; returns the files written."""
    check_name(name, target)
    written = []
    for template in sorted(SCAFFOLD.rglob(f"*{SUFFIX}")):
        relative = template.relative_to(SCAFFOLD)
        destination = target / name / relative.with_name(relative.name.removesuffix(SUFFIX))
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(render(template.read_text(), name))
        written.append(destination)
    return written


class Command(BaseCommand):
    help = "Create brokers/NAME/: adapter, mapping, schemas, client, contracts, stream stub, login, respx fixtures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the broker's slug, e.g. zerodha")
        parser.add_argument("--target", type=Path, default=BROKERS_DIR, help="where the package goes (tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        name, target = options["name"], options["target"]
        written = scaffold(name, target)
        self.stdout.write(self.style.SUCCESS(f"Created {target / name} ({len(written)} files)."))
        self.stdout.write(f'Next: add "{name}" to BROKERS, write client/mapping/adapter until '
                          f"`pytest brokers/tests/test_contract.py -k {name}` passes.")
