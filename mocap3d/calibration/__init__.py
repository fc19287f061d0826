"""Camera calibration: boards, detection, intrinsics, extrinsics and bundle adjustment."""
