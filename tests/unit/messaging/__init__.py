"""Unit tests of zumik_messaging."""
