"""bench/report.png: the latest results against the targets (and a Markdown table on stdout).

    python -m bench.report [--results bench/results.jsonl] [--size full] [--png bench/report.png]

For each scenario it takes the newest invocation (run_id) that asked for it and ran it
without error, and the median of that invocation's runs (make bench runs 3) for each
headline figure; a delivery rate's share of the sender limit is drawn beside the whole
limit (1.0), both labelled with their medians in deliveries/s.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from bench.config import REPORT_PATH, RESULTS_PATH, SENDER_LIMIT_SUFFIX, TARGETS
from bench.measure import median


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest_medians(lines: list[dict], size: str = "full") -> dict:
    """{scenario: {"run_id", "commit", "timestamp", "runs", "headline": {figure: median}}}."""
    newest: dict[str, str] = {}
    usable = [line for line in lines if line.get("size") == size and "error" not in line and "headline" in line]
    # Lines a run added only because the asked-for scenario needs them (the sender limit, fan-out
    # for isolation and soak) count only where no run asked for that scenario itself.
    for line in sorted(usable, key=lambda line: not line.get("auxiliary", False)):
        newest[line["scenario"]] = line["run_id"]  # the file is in time order: the last wins
    latest = {}
    for scenario, run_id in newest.items():
        of_run = [line for line in usable if line["run_id"] == run_id]
        latest[scenario] = _medians([line for line in of_run if line["scenario"] == scenario])
        sender = [line for line in of_run if line["scenario"] == "sender"]
        latest[scenario]["sender_limit"] = _medians(sender)["headline"].get("sender_limit_per_s") if sender else None
    return latest


def _medians(chosen: list[dict]) -> dict:
    figures = defaultdict(list)
    for line in chosen:
        # Lines written before the shares moved into the headline kept them apart.
        for name, value in {**line.get("of_sender_limit", {}), **line["headline"]}.items():
            figures[name].append(value)
    machine = chosen[-1].get("machine") or {}
    return {"run_id": chosen[-1]["run_id"], "commit": chosen[-1].get("commit", ""),
            "machine": f"{machine.get('cpus', '?')} x {machine['cpu_model']}" if machine.get("cpu_model") else "",
            "began": chosen[0].get("timestamp", ""), "timestamp": chosen[-1].get("timestamp", ""), "runs": len(chosen),
            "headline": {name: median(values) for name, values in figures.items()}}


def verdicts(latest: dict) -> list[dict]:
    """One row per target: the measured median (or None) and whether it meets the target."""
    measured = {name: value for entry in latest.values() for name, value in entry["headline"].items()}
    source = {name: entry for entry in latest.values() for name in entry["headline"]}
    rows = []
    for name, target in TARGETS.items():
        value = measured.get(name)
        met = None if value is None else (value >= target["target"] if target["direction"] == ">="
                                          else value <= target["target"])
        rows.append({"figure": name, "label": target["label"], "target": target["target"],
                     "direction": target["direction"], "value": value, "met": met,
                     "runs": source[name]["runs"] if name in source else 0,
                     "sender_limit": source[name]["sender_limit"] if name in source else None,
                     "rate": measured.get(name.removesuffix(SENDER_LIMIT_SUFFIX)) if name.endswith(
                         SENDER_LIMIT_SUFFIX) else None})
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def markdown(rows: list[dict]) -> str:
    lines = ["| figure | target | measured (median) | |", "|---|---|---|---|"]
    for row in rows:
        value = "not run" if row["value"] is None else _number(row["value"])
        verdict = "" if row["met"] is None else "met" if row["met"] else "**not met**"
        lines.append(f"| {row['label']} | {row['direction']} {row['target']:,} | {value} | {verdict} |")
    return "\n".join(lines)


def draw(rows: list[dict], latest: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows_of_charts = -(-len(rows) // 4)  # one chart per target, four a row: none left out
    fig, axes = plt.subplots(rows_of_charts, 4, figsize=(16, 3.75 * rows_of_charts), squeeze=False)
    for axis in axes.flat[len(rows):]:
        axis.set_visible(False)
    for axis, row in zip(axes.flat, rows, strict=False):  # the last row of charts may have spares
        value = row["value"] or 0
        colour = "#999999" if row["met"] is None else "#2e7d32" if row["met"] else "#c62828"
        bars, heights, colours = ["measured"], [value], [colour]
        if row["rate"] and row["sender_limit"]:  # a fraction of what the machine can send, with both rates
            bars = [f"measured\n{row['rate']:,.0f}/s", f"sender limit\n{row['sender_limit']:,.0f}/s"]
            heights, colours = heights + [1.0], colours + ["#b0bec5"]
        axis.bar(bars, heights, color=colours, width=0.5)
        axis.axhline(row["target"], color="black", linestyle="--", linewidth=1.2)
        axis.text(0.02, row["target"], f" target {row['direction']} {row['target']:g}", va="bottom", fontsize=8,
                  transform=axis.get_yaxis_transform())
        runs = f"\n(median of {row['runs']} run{'s' if row['runs'] > 1 else ''})" if row["runs"] else ""
        axis.set_title(row["label"] + runs, fontsize=10)
        axis.set_ylim(0, max(*heights, row["target"]) * 1.25 or 1)
        for x, height in enumerate(heights):
            label = "not run" if row["value"] is None and x == 0 else _number(height)
            axis.text(x, height, label, ha="center", va="bottom", fontsize=10, fontweight="bold")
    # Dated and placed by machine (a reader compares figures by when and where, not by commit).
    began = min((entry["began"] for entry in latest.values()), default="")
    ended = max((entry["timestamp"] for entry in latest.values()), default="")
    machines = sorted({entry["machine"] for entry in latest.values() if entry["machine"]})
    span = f"{began[:10]} {began[11:16]} to {ended[11:16]} UTC" if began else "no results"
    fig.suptitle(f"Calendence Webhooks benchmark: medians of the latest runs vs targets "
                 f"({span}, {'; '.join(machines) or 'machine unknown'}; green met, red not met)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--size", default="full")
    parser.add_argument("--png", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    latest = latest_medians(read_lines(args.results), args.size)
    if not latest:
        print(f"bench.report: no {args.size} results in {args.results}", file=sys.stderr)
        return 1
    rows = verdicts(latest)
    draw(rows, latest, args.png)
    print(markdown(rows))
    print(f"\n(wrote {args.png})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
