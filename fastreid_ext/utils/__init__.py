"""Small utilities shared by every part of the engine."""
