"""Synthetic recordings with exact ground truth: a rendered body filmed through a calibrated rig."""
