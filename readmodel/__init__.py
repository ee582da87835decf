"""The read model: what every view reads (the selection it is asked for, the daily aggregates
loaded per database identity and data version, and the totals computed from them once)."""

from readmodel.selection import ALL, Selection, day

__all__ = ["ALL", "Selection", "day"]
