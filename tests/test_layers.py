"""The allowed arrows between apps (docs/architecture.md) hold, and breaking one fails the lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "apps are layered: front and operations on top, the domain apps, publishing, lib"
CONTRACTS = [
    "lib imports no domain app",
    LAYERS,
    "fundraising does not import newsletter",
    "no import cycles between apps or between the modules of one app",
]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS:
        assert f"{name} KEPT" in result.stdout


def copy_of_the_project(destination: Path) -> Path:
    shutil.copytree(
        ROOT / "pressroom",
        destination / "pressroom",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "migrations"),
    )
    shutil.copy(ROOT / "pyproject.toml", destination)
    return destination


def test_an_import_of_an_app_from_lib_hidden_in_a_function_breaks_the_lint(tmp_path):
    project = copy_of_the_project(tmp_path)
    with (project / "pressroom/lib/email.py").open("a") as module:
        module.write("\n\ndef _sneaky():\n    from pressroom.publishing.models import Article\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "lib imports no domain app BROKEN" in result.stdout
    assert "pressroom.lib.email -> pressroom.publishing.models" in result.stdout


def test_a_cycle_between_two_modules_of_an_app_breaks_the_lint(tmp_path):
    project = copy_of_the_project(tmp_path)
    with (project / "pressroom/newsletter/digests.py").open("a") as module:
        module.write("\n\ndef _sneaky():\n    from pressroom.newsletter import tasks\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "no import cycles between apps or between the modules of one app BROKEN" in (
        result.stdout
    )


def test_publishing_importing_an_app_built_on_it_breaks_the_layers(tmp_path):
    project = copy_of_the_project(tmp_path)
    with (project / "pressroom/publishing/listings.py").open("a") as module:
        module.write("\n\ndef _sneaky():\n    from pressroom.newsletter import models\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert f"{LAYERS} BROKEN" in result.stdout
    assert "pressroom.publishing is not allowed to import pressroom.newsletter" in result.stdout


def test_two_apps_of_the_middle_row_importing_each_other_breaks_the_layers(tmp_path):
    project = copy_of_the_project(tmp_path)
    with (project / "pressroom/search/signals.py").open("a") as module:
        module.write("\n\ndef _sneaky():\n    from pressroom.fundraising import models\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert f"{LAYERS} BROKEN" in result.stdout
    assert "pressroom.search is not allowed to import pressroom.fundraising" in result.stdout


def test_an_app_importing_front_breaks_the_layers(tmp_path):
    project = copy_of_the_project(tmp_path)
    with (project / "pressroom/operations/health.py").open("a") as module:
        module.write("\n\ndef _sneaky():\n    from pressroom.front import views\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "pressroom.operations is not allowed to import pressroom.front" in result.stdout
