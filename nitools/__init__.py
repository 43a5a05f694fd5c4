"""nitools: reinstall MikroTik RouterBoards over the network (netinstall)."""

__version__ = "0.1.0"
