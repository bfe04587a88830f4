"""The floors of Careway, read from the imports themselves (../shared/DESIGN.md, "Layout").

core is the ground floor: it imports no domain, adapter or demo, and only its own pages
(core/views) use the page toolkit, as every page does. The toolkit stands on core only.
patients is the first domain and knows no other; every domain (an app with models, other than
core and the FHIR adapter) may use core, the toolkit and patients, and never imports the FHIR
adapter or the demo, which stand on top and may use every domain. The routing engine is a plain
library. And core's schema depends on no other app's.
"""

import ast
from pathlib import Path

import pytest

CAREWAY = Path(__file__).resolve().parents[1] / "careway"
TESTS = Path(__file__).resolve().parent
DOMAINS = sorted(
    p.name
    for p in CAREWAY.iterdir()
    if (p / "models.py").exists() and p.name not in ("core", "fhir")
)
ABOVE_DOMAINS = {"fhir", "demo"}


def careway_imports(path: Path) -> set[str]:
    """The careway packages a module imports: {"core", "patients", ...} (relative imports are
    within its own package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "careway" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules_of(package: Path) -> list[Path]:
    return [p for p in package.rglob("*.py") if "migrations" not in p.parts]


def imports_by_module(package: Path) -> dict[str, set[str]]:
    return {str(p.relative_to(package.parent)): careway_imports(p) for p in modules_of(package)}


def offenders(package: Path, allowed: set[str]) -> dict[str, set[str]]:
    own = package.name
    return {
        module: imported - allowed - {own}
        for module, imported in imports_by_module(package).items()
        if imported - allowed - {own}
    }


def test_the_floors_are_found():
    assert {"patients", "assessments"} <= set(DOMAINS)
    assert "routing" not in DOMAINS and "toolkit" not in DOMAINS


def test_core_imports_no_domain_and_only_its_pages_use_the_toolkit():
    found = offenders(CAREWAY / "core", allowed={"toolkit"})
    assert found == {}
    toolkit_users = {
        module
        for module, imported in imports_by_module(CAREWAY / "core").items()
        if "toolkit" in imported
    }
    assert all(module.startswith("core/views/") for module in toolkit_users), toolkit_users


def test_the_toolkit_stands_on_core_only():
    assert offenders(CAREWAY / "toolkit", allowed={"core"}) == {}


def test_patients_knows_no_other_domain():
    assert offenders(CAREWAY / "patients", allowed={"core", "toolkit"}) == {}


@pytest.mark.parametrize("domain", DOMAINS)
def test_no_domain_imports_the_fhir_adapter_or_the_demo(domain):
    found = offenders(CAREWAY / domain, allowed={"core", "toolkit", "patients", *DOMAINS})
    assert found == {}


def test_the_example_domain_of_the_tests_keeps_to_its_floor():
    assert offenders(TESTS / "example_domain", allowed={"core", "toolkit", "patients"}) == {}


def test_the_routing_engine_is_a_plain_library():
    routing = CAREWAY / "routing"
    assert offenders(routing, allowed=set()) == {}
    for path in modules_of(routing):
        tree = ast.parse(path.read_text())
        roots = {
            (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0
            for alias in (node.names if isinstance(node, ast.Import) else [node])
        }
        assert "django" not in roots, path


def test_cores_migrations_depend_on_no_other_app():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, _name), migration in loader.disk_migrations.items():
        if app == "core":
            others = {dep[0] for dep in migration.dependencies} - {"core", "auth", "__setting__"}
            assert others == set(), migration.name


def test_a_finding_names_the_module_and_what_it_imports(tmp_path):
    package = tmp_path / "core"
    package.mkdir()
    (package / "views.py").write_text("from careway.patients.models import Patient\n")
    assert offenders(package, allowed=set()) == {"core/views.py": {"patients"}}
