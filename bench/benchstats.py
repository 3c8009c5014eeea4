"""What every benchmark prints besides its medians: the spread of its runs
and the machine it ran on, under which load.

A median alone hides a noisy run; the min-max next to it says how far to
trust a ratio. Load is sampled at the start and at the end of a run, since
a benchmark that takes minutes can start quiet and end loaded.

Import it from a script in bench/ with:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import benchstats
"""
import os
import platform
import statistics


def machine():
    """One line: CPU model, CPU count, kernel and the load right now."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"machine: {model}, {os.cpu_count()} CPUs, Linux "
            f"{platform.release()}; {load()}")


def load():
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


def spread(values, fmt=lambda v: f"{v:.3g}"):
    """'median M (min A - max B, N runs)' for a list of samples."""
    if not values:
        return "no runs"
    return (f"median {fmt(statistics.median(values))} (min "
            f"{fmt(min(values))} - max {fmt(max(values))}, "
            f"{len(values)} runs)")


def ratio_spread(mine, peer):
    """The ratio of medians, and the widest and narrowest ratios the runs
    allow (min/max and max/min), so a ratio's spread is printed with it."""
    if not mine or not peer:
        return "no ratio"
    med = statistics.median(mine) / statistics.median(peer)
    lo = min(mine) / max(peer)
    hi = max(mine) / min(peer)
    return f"{med:.2f} (runs allow {lo:.2f}-{hi:.2f})"
