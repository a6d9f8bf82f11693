"""Sensors of the Gradient provider."""
