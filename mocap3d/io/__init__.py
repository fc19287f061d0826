"""File formats: calibrations, 2D poses and 3D poses."""
