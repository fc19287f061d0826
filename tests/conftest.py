"""Shared fixtures.

External reference data (../shared/datasets, see its README) is found through
one fixture: ``$MOCAP3D_DATASETS`` or ``../shared/datasets`` beside the
repository. Tests that need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

REPO = Path(__file__).resolve().parents[1]


def _datasets_root() -> Path:
    return Path(os.environ.get("MOCAP3D_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    root = _datasets_root()
    if not root.is_dir():
        pytest.skip(f"external datasets not found at {root} (set MOCAP3D_DATASETS to their folder)")
    return root


@pytest.fixture(scope="session")
def dataset(datasets_dir):
    """``dataset("pose2sim-demo")`` -> its folder, or skip when that one is absent."""

    def get(name: str) -> Path:
        path = datasets_dir / name
        if not path.is_dir():
            pytest.skip(f"dataset '{name}' not found under {datasets_dir}")
        return path

    return get
