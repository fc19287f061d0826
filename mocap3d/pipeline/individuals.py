"""The project pipeline with several animals or people (``[triangulation] individuals = "all"`` or a number).

With that key the stages call the same stage functions as with one animal,
which dispatch on their input:

* ``triangulate`` (:func:`mocap3d.triangulation.triangulate_stage.run`):
  association across cameras, identities through time, each individual
  triangulated as one animal would be, into ``pose-3d/<session>.h5`` in the
  several-individual layout (:mod:`mocap3d.io.individuals`);
* ``filter3d``: each individual filtered (one ``pose-3d-filtered/<session>.h5``);
* ``angles``, ``gait``: one table (set of tables) per individual, ``angles/<session>_<individual>.csv``;
* ``export``: ``.nc``/``.h5`` one file with every individual, ``.trc``/``.c3d``/``.csv``/``.nwb``
  one file per individual (``exports/<session>_<individual>.trc``).

The names of the per-individual outputs come from the 3D file, so the stages
after ``triangulate`` plan once it has run; each is resumable like every stage
(its manifest records the 3D file it read). This module only says which
individuals a session's 3D file holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import PoseFileError

# ``ctx`` below is a :class:`~mocap3d.pipeline.stages.SessionContext` (not imported: stages imports this module).
SessionContext = Any

__all__ = ["session_individuals"]


def session_individuals(ctx: SessionContext, src: Path) -> list[str]:
    """The individuals of a session's 3D file (written by ``triangulate``), or a sentence when it is not there."""
    from ..io.individuals import individual_names_in

    names = individual_names_in(src)
    if names is None:
        raise PoseFileError(f"session {ctx.session.name}: {src.relative_to(ctx.session.root).as_posix()} is not "
                            "a several-individual 3D file yet; run the triangulate stage first (config.toml sets "
                            "[triangulation] individuals).")  # fmt: skip
    return names
