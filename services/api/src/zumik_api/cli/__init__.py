"""Zumik Support."""
