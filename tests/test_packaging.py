"""The installable package carries every file the code reads at run time (the Docker image and
any non-editable install have nothing else)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pogo", "wire", "ingest", "fleet", "emissions", "simulators", "city", "interop")


@pytest.mark.slow
def test_wheel_holds_every_data_file(tmp_path: Path) -> None:
    """Every file tracked under a package folder (SQL, GeoJSON, templates, CSS, ...) is in the
    wheel, so migrations, zones and the report work when installed from it."""
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    # uv, which installs the project (make setup keeps it in .uv/; the venv has no pip).
    uv = shutil.which("uv") or str(ROOT / ".uv" / "bin" / "uv")
    subprocess.run(
        [uv, "build", "--wheel", "--quiet", "--out-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in tracked if path not in names]
    assert not missing
