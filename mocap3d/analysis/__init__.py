"""Analyses of 3D reconstructions: alignment to a named frame, joint angles, gait."""
