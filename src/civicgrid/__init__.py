"""civicgrid: the platform a Chinese city runs to govern itself at city scale (市域社会治理)."""

__version__ = "0.1.0"
