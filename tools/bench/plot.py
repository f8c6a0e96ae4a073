#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""How the cost grows: plots and slopes of the benchmarks' sweeps (issue #20).

  plot.py mock LOG [--out DIR] [--rst FILE]
      From riommu_bench's output (C mock and riommu_mock in one boot):
      DIR/perf-mock-map.svg (series map_4k and map_1) and
      DIR/perf-mock-inval.svg (series inval).
  plot.py vtd --riommu LOG... --intel LOG... [--stage NAME] [--out DIR]
              [--rst FILE]
      From riommu_vtd_bench's output in each driver's boots, pooled:
      DIR/perf-vtd-map.svg, or DIR/perf-vtd-map-NAME.svg with --stage.
  plot.py check LOG [--out DIR]
      For make check: plot riommu_bench --smoke's sweep as `mock` does and
      fail unless every SVG exists and holds a line for both backends of
      each of its series.

Input: the lines "SWEEP backend series x median min max" (ns per op;
backend "C" or "Rust"; see the headers of riommu_bench.c and
riommu_vtd_bench.c).  With several logs per driver (VT-d boots), a point's
value is the median of the boots' medians and its spread the lowest min
and highest max.

Each figure: per-operation cost against x on log-log axes, one line per
series and driver, error bars from min to max.  Printed (and, with --rst,
written as a reStructuredText fragment for perfdoc.py): per series a table
of x, the drivers' medians, Rust/C and the log-log slope from the point
before; the least-squares slope over all points; and where a driver bends
(see BEND: the best two-line fit).  A slope of 1 is linear growth, below 1 better than linear.
"""

import argparse
import math
import os
import re
import sys
import textwrap

# A driver "bends" at x if two lines joined at x fit its points best (of
# all x, least squares in log-log) and their slopes differ by more than
# this: a quarter of the exponent, well below the 0 -> 1 change from a
# fixed cost per call to a cost per byte, and above what the noise of a
# few TCG rounds moves a fit over several points.
BEND = 0.25
# Growth is "linear or better" if the overall fitted slope is at most
# 1 + LINEAR_TOL: the same margin as BEND, for the noise of TCG timing.
LINEAR_TOL = 0.25

DRIVERS = ("Rust", "C")
NAMES = {"mock": {"Rust": "riommu_mock", "C": "C mock"},
         "vtd": {"Rust": "riommu_vtd", "C": "intel-iommu"}}
SERIES = {
    "map_4k": "IOAS_MAP + UNMAP in 4 KiB calls",
    "map_1": "IOAS_MAP + UNMAP in one call",
    "inval": "HWPT_INVALIDATE, one call",
}
FIGURES = {"mock": [("map", ("map_4k", "map_1")), ("inval", ("inval",))],
           "vtd": [("map", ("map_4k", "map_1"))]}


def parse(paths):
    """{(driver, series): {x: [(med, min, max), ...]}} from SWEEP lines."""
    data = {}
    for path in paths:
        with open(path, errors="replace") as f:
            for ln in f:
                w = ln.split()
                if len(w) != 7 or w[0] != "SWEEP":
                    continue
                drv, ser = w[1], w[2]
                x = int(w[3])
                data.setdefault((drv, ser), {}).setdefault(x, []).append(tuple(map(float, w[4:7])))
    return data


def settings(paths):
    """'R rounds, best of S batches of >= M ms' from the "# sweeps:" lines."""
    found = set()
    for path in paths:
        with open(path, errors="replace") as f:
            for ln in f:
                m = re.match(r"# sweeps: .*, (\d+) rounds?(?:\(s\))?, best of (\d+) batches "
                             r"of >= ([0-9.]+) ms", ln)
                if m:
                    found.add(f"{m.group(1)} rounds, each the best of {m.group(2)} batches "
                              f"of at least {m.group(3)} ms")
    return "; ".join(sorted(found)) or "unknown settings"


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def pooled(data):
    """{(driver, series): [(x, med, min, max)]}, x ascending."""
    out = {}
    for key, pts in data.items():
        out[key] = [(x, median([p[0] for p in v]), min(p[1] for p in v), max(p[2] for p in v))
                    for x, v in sorted(pts.items())]
    return out


def slopes(pts):
    """Log-log slope of each segment (None for the first point)."""
    s = [None]
    for (x0, y0, *_), (x1, y1, *_) in zip(pts, pts[1:]):
        s.append(math.log(y1 / y0) / math.log(x1 / x0) if y0 > 0 and y1 > 0 else None)
    return s


def line_fit(pts):
    """(slope, sum of squared residuals) of log y against log x, or None."""
    p = [(math.log(x), math.log(y)) for x, y, *_ in pts if x > 0 and y > 0]
    if len(p) < 2:
        return None
    mx = sum(a for a, _ in p) / len(p)
    my = sum(b for _, b in p) / len(p)
    den = sum((a - mx) ** 2 for a, _ in p)
    if not den:
        return None
    k = sum((a - mx) * (b - my) for a, b in p) / den
    return k, sum((b - my - k * (a - mx)) ** 2 for a, b in p)


def fit(pts):
    """Least-squares slope of log y against log x, or None."""
    f = line_fit(pts)
    return f[0] if f else None


def bends(pts):
    """[(x, slope below, slope above)]: the best fit of two lines joined at
    a point x (least squares in log-log, each line on at least two points),
    if their slopes differ by more than BEND; else []."""
    best = None
    for k in range(1, len(pts) - 1):
        lo, hi = line_fit(pts[:k + 1]), line_fit(pts[k:])
        if lo and hi and (best is None or lo[1] + hi[1] < best[0]):
            best = (lo[1] + hi[1], pts[k][0], lo[0], hi[0])
    if best and abs(best[3] - best[2]) > BEND:
        return [best[1:]]
    return []


def fmt_x(x, series):
    if series == "inval":
        return f"{x}"
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if x >= div:
            return f"{x / div:g} {unit}"
    return f"{x} B"


def fmt_ns(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} µs"
    return f"{v:.1f} ns"


def fmt_s(v):
    return "–" if v is None else f"{v:.2f}"


def xlabel(series):
    return "entries per call" if series == "inval" else "bytes mapped and unmapped"


def analyse(kind, pts):
    """Text lines (plain) and an RST fragment of tables, per series."""
    lines, rst = [], []
    names = NAMES[kind]
    for ser in SERIES:
        have = [d for d in DRIVERS if (d, ser) in pts]
        if not have:
            continue
        lines.append(f"{kind} {ser} ({SERIES[ser]}):")
        for d in have:
            p = pts[(d, ser)]
            f = fit(p)
            verdict = ("n/a" if f is None else
                       "linear or better" if f <= 1 + LINEAR_TOL else "WORSE than linear")
            lines.append(f"  {names[d]}: segment slopes " +
                         " ".join(fmt_s(s) for s in slopes(p)[1:]) +
                         f"; overall fit {fmt_s(f)} ({verdict})")
            b = bends(p)
            lines += [f"    bends at {fmt_x(x, ser)}: slope {a:.2f} -> {c:.2f}" for x, a, c in b]
            if not b:
                lines.append(f"    no bend (best two-line fit: slopes within {BEND})")
        # The RST table: x, Rust, C, Rust/C, slopes
        r = {x: (m, lo, hi) for x, m, lo, hi in pts.get(("Rust", ser), [])}
        c = {x: (m, lo, hi) for x, m, lo, hi in pts.get(("C", ser), [])}
        sr = dict(zip(sorted(r), slopes([(x, r[x][0]) for x in sorted(r)])))
        sc = dict(zip(sorted(c), slopes([(x, c[x][0]) for x in sorted(c)])))
        rows = []
        for x in sorted(set(r) | set(c)):
            ratio = f"{r[x][0] / c[x][0]:.2f}" if x in r and x in c and c[x][0] > 0 else "n/a"
            rows.append([fmt_x(x, ser),
                         fmt_ns(r[x][0]) if x in r else "n/a",
                         fmt_ns(c[x][0]) if x in c else "n/a",
                         ratio, f"{fmt_s(sr.get(x))} / {fmt_s(sc.get(x))}"])
        fr = fit([(x, r[x][0]) for x in sorted(r)])
        fc = fit([(x, c[x][0]) for x in sorted(c)])
        rows.append(["fit (all points)", "", "", "", f"{fmt_s(fr)} / {fmt_s(fc)}"])
        rst += [f"*{SERIES[ser]}* (``{ser}``; x: {xlabel(ser)}; median per operation; "
                f"slope: log-log, from the point before, {names['Rust']} / {names['C']}):", ""]
        rst += [".. list-table::", "   :header-rows: 1", "   :widths: 14 18 18 8 16", ""]
        for i, row in enumerate([["x", names["Rust"], names["C"], "Rust/C", "slope"]] + rows):
            rst.append(f"   * - {row[0]}")
            rst += [f"     - {v}".rstrip() for v in row[1:]]
        rst.append("")
        bl = []
        for d in have:
            b = bends(pts[(d, ser)])
            bl.append(f"{names[d]} " + ("bends at " + ", ".join(
                f"{fmt_x(x, ser)} (slope {a:.2f} → {c2:.2f})" for x, a, c2 in b)
                if b else f"does not bend (best two-line fit: slopes within {BEND})"))
        rst += ["; ".join(bl) + ".", ""]
    return lines, rst


def plot(kind, pts, out, suffix="", where=""):
    """Writes the figures of @kind; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # Text as <text>, not paths: smaller files, and check can read labels.
    plt.rcParams["svg.fonttype"] = "none"
    # Reproducible files: no date, fixed ids.
    plt.rcParams["svg.hashsalt"] = "riommu"
    names = NAMES[kind]
    styles = {"Rust": "-", "C": "--"}
    markers = {"map_4k": "o", "map_1": "s", "inval": "^"}
    written = []
    for fig_name, series in FIGURES[kind]:
        have = [(d, s) for s in series for d in DRIVERS if (d, s) in pts]
        if not have:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for d, s in have:
            p = pts[(d, s)]
            xs = [v[0] for v in p]
            ys = [v[1] for v in p]
            err = [[v[1] - v[2] for v in p], [v[3] - v[1] for v in p]]
            eb = ax.errorbar(xs, ys, yerr=err, linestyle=styles[d], marker=markers[s],
                             capsize=3, label=f"{names[d]}: {SERIES[s]}")
            eb.lines[0].set_gid(f"sweep-{d}-{s}")
        ax.set_xscale("log", base=2)
        ticks = sorted({v[0] for d, s in have for v in pts[(d, s)]})
        ax.set_xticks(ticks, [fmt_x(x, series[0]) for x in ticks])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel(xlabel(series[0]))
        ax.set_ylabel("time per operation (ns, QEMU TCG)")
        ax.set_title(f"{kind}{where}: cost against size (median, min–max)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(out, f"perf-{kind}-{fig_name}{suffix}.svg")
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)
        written.append(path)
    return written


METHOD = {
    "mock": ("In the same boot, after the measures (``riommu_bench``, "
             "``SWEEP`` lines; {settings}): for each point a warm-up operation "
             "per backend sizes the batch, then in each round batches per "
             "backend interleaved as for the measures (C, Rust, Rust, C, ...), "
             "of which each backend keeps its best; median and min–max "
             "over the rounds.  ``map_4k``: x bytes mapped with 4 KiB "
             "``IOMMU_IOAS_MAP`` calls, then unmapped with 4 KiB "
             "``IOMMU_IOAS_UNMAP`` calls; ``map_1``: one call each; both on the "
             "map measures' IOAS and scattered 4 KiB pages.  ``inval``: one "
             "``IOMMU_HWPT_INVALIDATE`` of x entries on the nested HWPT (neither "
             "mock caps the entries; iommufd's cap is 2^19)."),
    "vtd": ("In the first ``BENCH_SWEEP_PAIRS`` boot pairs, after the measures "
            "(``riommu_vtd_bench``, ``SWEEP`` lines; {settings}): for each point "
            "a warm-up operation sizes the batch, then the rounds; a "
            "driver's point is the median of its boots' medians, with the lowest "
            "min and highest max.  ``map_4k`` and ``map_1`` as for the mock, on the "
            "map HWPT ``edu`` is attached to (IOVA 1 GiB).  No invalidation "
            "sweep: the C driver has no nesting on QEMU."),
}


def report(kind, pts, out, rst_path, logs, stage=None):
    suffix = f"-{stage}" if stage else ""
    where = f", {stage}-stage unit" if stage else ""
    written = plot(kind, pts, out, suffix, where)
    lines, rst = analyse(kind, pts)
    print("\n".join(lines))
    for p in written:
        print(f"wrote {p}")
    if rst_path:
        title = f"Growth (sweeps){where}"
        figs = [f".. figure:: {os.path.basename(p)}\n   :width: 100%\n\n"
                f"   Cost per operation against size{where}, log-log, both drivers "
                f"(median, bars min–max).\n" for p in written]
        with open(rst_path, "w") as f:
            method = (METHOD[kind].format(settings=settings(logs)) +
                      "  A slope of 1 is linear growth.  A driver bends at x where two "
                      "lines joined at x fit its points best (least squares, log-log) "
                      f"and their slopes differ by more than {BEND}.")
            f.write(f"{title}\n{'~' * len(title)}\n\n" + textwrap.fill(method, 76) +
                    "\n\n" + "\n".join(figs) + "\n" +
                    "\n".join(textwrap.fill(ln, 76) if ln.startswith("*") or
                               ln.endswith(".") else ln for ln in rst) + "\n")
    return written


def check(log, out):
    pts = pooled(parse([log]))
    errors = []
    series = [s for _, ss in FIGURES["mock"] for s in ss]
    for s in series:
        for d in DRIVERS:
            if len(pts.get((d, s), [])) < 2:
                errors.append(f"{d} {s}: fewer than 2 SWEEP points in {log}")
    written = plot("mock", pts, out) if not errors else []
    for fig_name, ss in FIGURES["mock"]:
        path = os.path.join(out, f"perf-mock-{fig_name}.svg")
        if errors:
            break
        if path not in written or not os.path.getsize(path):
            errors.append(f"{path}: not written")
            continue
        svg = open(path).read()
        for s in ss:
            for d in DRIVERS:
                if f'id="sweep-{d}-{s}"' not in svg:
                    errors.append(f"{path}: no line for {d} {s}")
    for e in errors:
        print(f"not ok: {e}")
    if not errors:
        print(f"ok: {', '.join(written)} with both backends' series")
    return 1 if errors else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mock")
    m.add_argument("log")
    v = sub.add_parser("vtd")
    v.add_argument("--riommu", nargs="+", required=True)
    v.add_argument("--intel", nargs="+", required=True)
    v.add_argument("--stage")
    c = sub.add_parser("check")
    c.add_argument("log")
    for p in (m, v, c):
        p.add_argument("--out", default=".")
    for p in (m, v):
        p.add_argument("--rst")
    a = ap.parse_args(argv[1:])
    os.makedirs(a.out, exist_ok=True)
    if a.cmd == "check":
        return check(a.log, a.out)
    if a.cmd == "mock":
        pts = pooled(parse([a.log]))
        report("mock", pts, a.out, a.rst, [a.log])
    else:
        r = pooled(parse(a.riommu))
        i = pooled(parse(a.intel))
        pts = {k: v for k, v in r.items() if k[0] == "Rust"}
        pts.update({k: v for k, v in i.items() if k[0] == "C"})
        report("vtd", pts, a.out, a.rst, a.riommu + a.intel, a.stage)
    if not pts:
        print("no SWEEP lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
