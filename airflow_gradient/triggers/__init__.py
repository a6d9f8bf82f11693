"""Triggers of the Gradient provider (run in the triggerer, async)."""
