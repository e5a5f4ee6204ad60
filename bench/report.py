#!/usr/bin/env python3
"""The targets table (markdown, on stdout) and the per-address plot from one bench/run-all run.

    python3 bench/report.py bench/results bench/per-address.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"seed": "seed (2002 native MySQL)", "native": "native MySQL, updated",
          "dlfunc": "vmailsql (dlfunc)", "floor": "floor (Exim + SELECT 1)"}


def sqlite_rows(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("popboxes="):
            rows.append({k: float(v) for k, v in (w.split("=", 1) for w in line.split())})
    return rows


def plot(exim: list[dict], target: Path) -> None:
    schemas = sorted({r["schema"] for r in exim})
    fig, axes = plt.subplots(1, len(schemas), figsize=(6.5 * len(schemas), 4.8), squeeze=False)
    for ax, schema in zip(axes[0], schemas):
        for config, style in (("seed", "o-"), ("native", "s-"), ("dlfunc", "D-"), ("floor", "^--")):
            pts = sorted((r["popboxes"], r["per_address_us"]) for r in exim
                         if r["schema"] == schema and r["config"] == config)
            if pts:
                ax.plot([p[0] for p in pts], [max(p[1], 1) for p in pts], style,
                        label=LABELS[config])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("popboxes in the table")
        ax.set_ylabel("Exim routing cost per address (us)")
        ax.set_title(f"{schema} schema")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("exim -bt, marginal cost per address (bench/run-all)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def main() -> int:
    out, png = Path(sys.argv[1]), Path(sys.argv[2])
    data = json.loads((out / "exim.json").read_text())
    exim, lib = data["exim"], data["library"]
    plot(exim, png)
    sizes = sorted({r["popboxes"] for r in exim})

    def per(config, size, schema):
        return next((r["per_address_us"] for r in exim if r["config"] == config
                     and r["popboxes"] == size and r["schema"] == schema), None)

    print(f"Load average {data['load_average_start']:.1f} at start, "
          f"{data.get('load_average_end', float('nan')):.1f} at the end of the MariaDB part.\n")
    print("| figure | measured | target |")
    print("|---|---|---|")
    schemas = sorted({r["schema"] for r in exim})
    ratios = [per("dlfunc", n, s) / per("floor", n, s) for n in sizes for s in schemas
              if per("dlfunc", n, s) and per("floor", n, s)]
    print(f"| Exim per address through vmailsql / floor, {', '.join(f'{n:,}' for n in sizes)} "
          f"popboxes | {min(ratios):.1f}-{max(ratios):.1f}x | <= 2.5x |")
    if len(sizes) > 1:
        growth = [per("dlfunc", sizes[-1], s) / per("dlfunc", sizes[0], s) - 1 for s in schemas]
        stmts = [r["statements"] for r in exim if r["config"] == "dlfunc"]
        print(f"| Exim per address, {sizes[-1]:,} vs {sizes[0]:,} | "
              f"{', '.join(f'{g * 100:+.0f}%' for g in growth)} (statements / address "
              f"{min(stmts):.2f}-{max(stmts):.2f}) | within +-20% |")
    rng = lambda key: f"{min(r[key] for r in lib):.2f}-{max(r[key] for r in lib):.2f}x"
    print(f"| `resolve`, domain not yet known / one PK SELECT | {rng('resolve_x_pk')} | <= 2.5x |")
    print(f"| `resolve`, domain already checked / one PK SELECT | {rng('known_x_pk')} | <= 1.6x |")
    sq = sqlite_rows(out / "sqlite.txt") if (out / "sqlite.txt").exists() else []
    if sq:
        cells = ", ".join(f"{int(r['popboxes']):,}: {r['resolve_per_s'] / 1e3:.0f}k/s "
                          f"({r['resolve_cached_domain_per_s'] / 1e3:.0f}k/s domain known; "
                          f"PK SELECT {r['pk_per_s'] / 1e3:.0f}k/s)" for r in sq)
        print(f"| SQLite resolutions per second, one thread | {cells} | >= 120k (100k) / "
              f">= 100k (1M) |")
    auth = ", ".join(f"{r['auth_pct']:+.1f}%" for r in lib)
    print(f"| `authenticate` over the bare hash verification, MySQL | {auth} | <= +5% |")
    conn = ", ".join(f"{r['first_us'] / r['again_us']:.1f}x" for r in lib)
    print(f"| first connection in a process / a reconnection | {conn} | <= 1.5x |")
    cg = data.get("callgrind")
    if cg and "ratio" in cg:
        print(f"| one-recipient Exim process, instructions (callgrind), vmailsql / floor | "
              f"{cg['dlfunc'] / 1e6:.1f}M / {cg['floor'] / 1e6:.1f}M = {cg['ratio']:.3f}x "
              f"| <= 1.03x |")
    imp = data.get("import")
    if imp:
        print(f"| `vmailctl import` of {imp['records']:,} records into MariaDB | "
              f"{imp['seconds']:.1f} s, {imp['max_rss_mb']:.0f} MB resident | <= 25 s, "
              f"<= 300 MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
