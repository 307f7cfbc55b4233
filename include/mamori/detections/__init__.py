"""Detections as code: SQL files with a strict YAML header, rendered per window, run on the engine."""
