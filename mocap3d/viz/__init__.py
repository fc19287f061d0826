"""2D pictures of a reconstruction: reprojection overlays and error summaries."""
