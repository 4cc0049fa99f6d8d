#!/usr/bin/env python3
"""Draw the benchmark plots and print the summary tables of docs/benchmarks.md.

Reads the JSON results that cmd/parley-bench writes (one file per scenario,
target and run, named SCENARIO-TARGET-RUN.json, as cmd/parley-bench/bench.sh
names them) and writes PNGs next to them, one level up (docs/bench/).

    python3 scripts/plot-bench.py [RESULTS_DIR]     # default docs/bench/results

Needs matplotlib (pip install matplotlib).
"""

import glob
import json
import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# dmfsync plots Parley with --fsync=sends and --fsync=all.
RECIPIENT_ONLY = "centrifugo (recipient only)"
COLORS = {"parley": "tab:blue", "centrifugo": "tab:orange", "sends": "tab:green", "all": "tab:red",
          RECIPIENT_ONLY: "tab:brown"}


def load(folder):
    """Return {scenario: {target: [result, ...]}} ordered by run."""
    out = defaultdict(lambda: defaultdict(list))
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        scenario, target, _run = name.rsplit("-", 2)
        with open(path) as f:
            out[scenario][target].append(json.load(f))
    # Centrifugo's DMs published to the recipient's channel only (bench.sh's
    # dmrecipient) are drawn and tabled with the DMs, as a line of their own.
    for results in out.pop("dmrecipient", {}).values():
        out["dm"][RECIPIENT_ONLY] = results
    return out


def by_rate(results, key):
    """Return {offered rate: [value of each run]} for a step field."""
    vals = defaultdict(list)
    for r in results:
        for s in r.get("steps") or []:
            vals[s["offered_per_s"]].append(key(s))
    return vals


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs, fmt="{:.0f}"):
    if not xs:
        return "-"
    return (fmt + " ({}–{})").format(med(xs), fmt.format(min(xs)), fmt.format(max(xs)))


def sustained(result, p99_limit):
    """The highest delivered rate of a step whose p99 stayed within the limit."""
    best = 0.0
    for s in result.get("steps") or []:
        if s["latency"]["p99_ms"] <= p99_limit and s["latency"]["count"] > 0:
            best = max(best, s["delivered_per_s"])
    return best


def plot_steps(data, scenario, title, png, yfield, ylabel, logy=False):
    if not data.get(scenario):
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for target, results in sorted(data.get(scenario, {}).items()):
        thr = by_rate(results, lambda s: s["delivered_per_s"])
        lat = by_rate(results, yfield)
        xs = sorted(thr)
        c = COLORS.get(target)
        ax1.plot(xs, [med(thr[x]) for x in xs], "o-", color=c, label=target)
        ax1.fill_between(xs, [min(thr[x]) for x in xs], [max(thr[x]) for x in xs],
                         color=c, alpha=0.2)
        ax2.plot(xs, [med(lat[x]) for x in xs], "o-", color=c, label=target)
        ax2.fill_between(xs, [min(lat[x]) for x in xs], [max(lat[x]) for x in xs],
                         color=c, alpha=0.2)
    ax1.set_xlabel("offered messages/s")
    ax1.set_ylabel("delivered messages/s")
    ax2.set_xlabel("offered messages/s")
    ax2.set_ylabel(ylabel)
    if logy:
        ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title + " (median of runs, band = min–max)")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def plot_idle(data, png):
    if not (data.get("idle10k") or data.get("idle19k")):
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    labels, width = ["10,000", "19,000"], 0.35
    for i, target in enumerate(["parley", "centrifugo"]):
        vals = [med([r["idle"]["kib_per_conn"] for r in data.get(s, {}).get(target, [])])
                for s in ("idle10k", "idle19k")]
        ax.bar([j + i * width for j in range(2)], vals, width, label=target,
               color=COLORS[target])
    ax.axhline(25 * 1000 / 1024, color="red", ls="--", label="target 25 KB")
    ax.set_xticks([j + width / 2 for j in range(2)], labels)
    ax.set_xlabel("idle connections")
    ax.set_ylabel("server RSS KiB per connection")
    # Room above the bars for the legend.
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    ax.legend(loc="upper left", ncols=3, fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def table(data):
    """Print the markdown tables of docs/benchmarks.md."""
    print("| scenario | rate | target | delivered/s | p50 ms | p99 ms | p999 ms | server CPU % |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario in sorted(data):
        if scenario.startswith("idle"):
            continue
        for target, results in sorted(data[scenario].items()):
            rates = by_rate(results, lambda s: s)
            for rate in sorted(rates):
                steps = rates[rate]
                print("| {} | {:g} | {} | {} | {} | {} | {} | {} |".format(
                    scenario, rate, target,
                    spread([s["delivered_per_s"] for s in steps]),
                    spread([s["latency"]["p50_ms"] for s in steps], "{:.1f}"),
                    spread([s["latency"]["p99_ms"] for s in steps], "{:.1f}"),
                    spread([s["latency"]["p999_ms"] for s in steps], "{:.1f}"),
                    spread([s["server"]["cpu_percent"] for s in steps])))
    print()
    print("| scenario | target | sustained/s at p99 ≤ limit | runs | lost | dup | errors |")
    print("|---|---|---|---|---|---|---|")
    limits = {"dm": 50, "dmfsync": 50, "dmws": 50, "fanout1k": 100, "fanout10k": 150, "notify": 20}
    for scenario, limit in limits.items():
        for target, results in sorted(data.get(scenario, {}).items()):
            print("| {} (p99 ≤ {} ms) | {} | {} | {} | {} | {} | {} |".format(
                scenario, limit, target, spread([sustained(r, limit) for r in results]),
                len(results), sum(r["lost"] for r in results),
                sum(r["duplicates"] for r in results), sum(r["errors"] for r in results)))
    print()
    print("| idle | target | KiB/conn | RSS MiB | connect s |")
    print("|---|---|---|---|---|")
    for scenario in ("idle10k", "idle19k"):
        for target, results in sorted(data.get(scenario, {}).items()):
            i = [r["idle"] for r in results]
            print("| {} | {} | {} | {} | {} |".format(
                scenario, target, spread([x["kib_per_conn"] for x in i], "{:.1f}"),
                spread([x["rss_mib"] for x in i]), spread([x["connect_seconds"] for x in i], "{:.1f}")))


def load_syscalls(folder):
    """Return {(target, rate): {name: [calls per DM of each run]}} from the
    syscalls-TARGET-RATE-RUN.txt files of bench.sh's syscalls scenario."""
    out = defaultdict(lambda: defaultdict(list))
    for path in sorted(glob.glob(os.path.join(folder, "syscalls-*.txt"))):
        _, target, rate, _run = os.path.basename(path)[: -len(".txt")].rsplit("-", 3)
        with open(path) as f:
            for line in f:
                name, per_dm = line.split()
                out[(target, int(rate))][name].append(float(per_dm))
    return out


def syscall_table(counts):
    """Print the table of system calls per DM, if bench.sh counted them."""
    if not counts:
        return
    names = ["all", "read", "write", "pwrite64", "pread64", "lseek", "epoll_pwait", "futex", "nanosleep"]
    print()
    print("| target | DMs/s | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for (target, rate), by_name in sorted(counts.items()):
        print("| {} | {} | {} |".format(target, rate, " | ".join(
            spread(by_name.get(n, []), "{:.1f}") for n in names)))


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "docs/bench/results"
    out = os.path.dirname(os.path.abspath(folder))
    data = load(folder)
    plot_steps(data, "dm", "Direct messages over HTTP", os.path.join(out, "dm.png"),
               lambda s: s["latency"]["p99_ms"], "p99 latency ms", logy=True)
    plot_steps(data, "dmfsync", "Direct messages on disk before acknowledged: --fsync=sends, =all",
               os.path.join(out, "dm-fsync.png"), lambda s: s["latency"]["p99_ms"],
               "p99 latency ms", logy=True)
    plot_steps(data, "dmws", "Direct messages sent over WebSocket (Parley only)",
               os.path.join(out, "dm-ws.png"), lambda s: s["latency"]["p99_ms"],
               "p99 latency ms", logy=True)
    plot_steps(data, "fanout1k", "Group fan-out to 1,000 members", os.path.join(out, "fanout1k.png"),
               lambda s: s["latency"]["p99_ms"], "p99 latency ms", logy=True)
    plot_steps(data, "fanout10k", "Group fan-out to 10,000 members",
               os.path.join(out, "fanout10k.png"),
               lambda s: (s.get("broadcast_completion") or {}).get("p99_ms", float("nan")),
               "p99 time to reach all members ms", logy=True)
    plot_steps(data, "notify", "Notifications produced to Kafka", os.path.join(out, "notify.png"),
               lambda s: s["latency"]["p99_ms"], "p99 latency ms", logy=True)
    plot_idle(data, os.path.join(out, "idle.png"))
    table(data)
    syscall_table(load_syscalls(folder))


if __name__ == "__main__":
    main()
