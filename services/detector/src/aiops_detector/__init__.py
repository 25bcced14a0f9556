"""Detector: writes span batches to the store exactly once; detectors come later."""
