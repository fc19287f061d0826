"""All individuals in one output: see :mod:`mocap3d.io.individuals` (the files' code lives with the other formats)."""

from ..io.individuals import (
    ONE_FILE_SUFFIXES,
    individual_names_in,
    individual_paths,
    load_individuals,
    read_individuals,
    save_individuals,
)

__all__ = ["save_individuals", "load_individuals", "read_individuals", "individual_names_in", "individual_paths",
           "ONE_FILE_SUFFIXES"]
