"""Emulated RouterBoards and synthetic packages, for tests and the demo."""
