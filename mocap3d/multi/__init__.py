"""Several animals or people: cross-view association, identity through time, one output for all.

* :class:`~.detections.Detections`: per-camera detections, unassociated.
* :class:`~.association.Associator`: one frame's cross-view association.
* :func:`~.tracking.track_individuals`: association over a recording with 3D tracks.
* :func:`mocap3d.triangulation.individuals.triangulate_individuals` (the triangulation room, above this one):
  detections -> individual name -> Poses3D.
"""

from .association import AssociationConfig, Associator
from .detections import Detections
from .tracking import TrackingConfig, TrackingResult, track_individuals

__all__ = ["AssociationConfig", "Associator", "Detections", "TrackingConfig", "TrackingResult", "track_individuals"]
