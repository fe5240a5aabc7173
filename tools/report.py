#!/usr/bin/env python3
"""seam report: one self-contained HTML page (plots inline) from seam's machine-readable results.

Inputs, recognised by their content:
  seam bench rows (-o csv or jsonl)        decode tok/s per cut for each link, split vs local,
                                           bytes per token per wire dtype
  bench/sweep_partition.sh's CSV           predicted vs measured decode time
  bench_serve --json / bench_recovery --json  server scaling against clients, recovery against context
  seam run --json records                  time per step

    seam report bench.csv sweep.csv -o report.html [--png-dir DIR]

Needs matplotlib (the build venv has it: make venv).
"""
import argparse
import base64
import csv
import html
import io
import json
import os
import sys

plt = None  # matplotlib.pyplot, imported in main (so that --help works without it)


def read_any(path):
    """(kind, rows) for one input file."""
    text = open(path, encoding="utf-8").read()
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        doc = json.loads(stripped)
        if "steps" in doc and "summary" in doc:
            return "run", [doc]
        if doc.get("bench") in ("serve", "recovery"):
            return doc["bench"], doc["rows"]
        raise ValueError(f"{path}: a JSON document seam report does not know")
    if stripped.startswith("{"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        if rows and "point" in rows[0]:
            return "bench", rows
        if rows and rows[0].get("bench") in ("serve", "recovery"):
            return rows[0]["bench"], [r for r in rows if "bench" not in r or r.get("row")]
        raise ValueError(f"{path}: JSON Lines seam report does not know")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"{path}: no rows")
    if "point" in rows[0]:
        return "bench", rows
    if "predicted_ms" in rows[0] and "measured_ms" in rows[0]:
        return "sweep", rows
    raise ValueError(f"{path}: a CSV seam report does not know (columns: {', '.join(rows[0])})")


def num(r, k):
    return float(r[k])


def png(fig, name, pngs, png_dir):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    if png_dir:
        with open(os.path.join(png_dir, name + ".png"), "wb") as f:
            f.write(data)
    pngs.append((name, base64.b64encode(data).decode()))


def shape_x(shape, n_layer):
    """A cut's x position: the server's first layer; local at n_layer."""
    if shape == "local":
        return n_layer
    a, b = (int(x) for x in shape.split("-"))
    return a


def plot_bench(rows, pngs, png_dir, notes):
    # a sweep with --predict: its predictions against what was measured; --plan rows (the
    # planner's choice per link) are not cuts and are left out of the per-cut plots
    predicted = [r for r in rows if float(r.get("predicted_ms") or 0) > 0 and r["shape"] != "plan"]
    if predicted:
        plot_predicted([num(r, "predicted_ms") for r in predicted],
                       [num(r, "tg_ms_per_token") for r in predicted], pngs, png_dir, notes, "seam bench --predict",
                       [EMULATION.get(r.get("emulation"), r.get("emulation") or "") for r in predicted])
    rows = [r for r in rows if r["shape"] != "plan"]
    if not rows:
        return
    # the same link emulated two ways (in the process, by the kernel) is two lines
    if len({r.get("emulation") for r in rows}) > 1:
        rows = [dict(r, link=f"{r['link']} ({r.get('emulation')})") for r in rows]
    links = sorted({r["link"] for r in rows})
    wires = sorted({r["wire"] for r in rows if r["shape"] != "local"})
    n_layer = max([int(r["shape"].split("-")[1]) for r in rows if r["shape"] != "local"] or [0])
    # decode tok/s per cut, one line per link (f32, head local)
    fig, ax = plt.subplots(figsize=(7, 4))
    for link in links:
        pts = sorted((shape_x(r["shape"], n_layer), num(r, "tg_tok_s"), num(r, "tg_sd")) for r in rows
                     if r["link"] == link and r["head"] == "local" and r["wire"] in ("f32", "-")
                     and r["shape"] != "local")
        if pts:
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                        marker="o", capsize=3, label=f"link {link}")
        local = [num(r, "tg_tok_s") for r in rows if r["link"] == link and r["shape"] == "local"]
        if local:
            ax.axhline(local[0], linestyle="--", linewidth=1, color=ax.lines[-1].get_color() if pts else None,
                       label=f"all local ({link})")
    ax.set_xlabel("first layer on the server (cut)")
    ax.set_ylabel("decode tok/s")
    ax.set_title("Decode speed per cut, for each link (f32, head here)")
    legend(ax, len(links))
    ax.grid(alpha=0.3)
    png(fig, "decode_per_cut", pngs, png_dir)
    # bytes per generated token by wire dtype
    fig, ax = plt.subplots(figsize=(5, 3.5))
    means = []
    for w in wires:
        v = [num(r, "bytes_per_token") for r in rows if r["wire"] == w and r["shape"] != "local"]
        means.append(sum(v) / len(v) if v else 0)
    ax.bar(wires, means, color="#4472c4")
    for i, m in enumerate(means):
        ax.text(i, m, f"{m:,.0f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("bytes per generated token (both ways)")
    ax.set_title("Wire bytes per token by dtype")
    png(fig, "bytes_per_dtype", pngs, png_dir)
    # split vs local, per link
    fig, ax = plt.subplots(figsize=(7, 4))
    labels, width = [], 0.8 / max(len(links), 1)
    shapes = sorted({(r["shape"], r["wire"]) for r in rows if r["shape"] != "local"},
                    key=lambda s: (shape_x(s[0], n_layer), s[1]))
    for i, link in enumerate(links):
        local = [num(r, "tg_tok_s") for r in rows if r["link"] == link and r["shape"] == "local"]
        if not local:
            continue
        ratios = []
        for shape, wire in shapes:
            v = [num(r, "tg_tok_s") for r in rows if r["link"] == link and r["shape"] == shape and r["wire"] == wire]
            ratios.append(v[0] / local[0] if v else 0)
        ax.bar([k + i * width for k in range(len(shapes))], ratios, width, label=f"link {link}")
    ax.set_xticks([k + width * (len(links) - 1) / 2 for k in range(len(shapes))])
    ax.set_xticklabels([f"{s}\n{w}" for s, w in shapes], fontsize=8)
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_ylabel("decode tok/s ÷ all local")
    ax.set_title("Split against local")
    legend(ax, len(links))
    png(fig, "split_vs_local", pngs, png_dir)
    first = rows[0]
    notes.append(f"seam bench: {len(rows)} points, {first.get('model', '?')}, commit {first.get('commit', '?')}, "
                 f"host {first.get('host', '?')}, {first.get('date', '?')}, client threads "
                 f"{sorted({str(r['threads']) for r in rows})}")


def plot_sweep(rows, pngs, png_dir, notes):
    plot_predicted([num(r, "predicted_ms") for r in rows], [num(r, "measured_ms") for r in rows], pngs,
                   png_dir, notes, "partition sweep")


EMULATION = {"process": "links in the process", "tbf+nfqueue": "kernel links (tbf + delay line)",
             "netem": "kernel links (netem)"}


def legend(ax, n):
    """Beside the plot when there are many entries, where it hides no points."""
    if n > 4:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    else:
        ax.legend(fontsize=8)


def plot_predicted(pred, meas, pngs, png_dir, notes, what, groups=None):
    ok = [abs(p - m) <= 0.15 * m for p, m in zip(pred, meas)]
    within = sum(ok)
    groups = groups or [""] * len(pred)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        k = sum(ok[i] for i in idx)
        ax.scatter([meas[i] for i in idx], [pred[i] for i in idx], s=12, alpha=0.7,
                   label=f"{g}: {k} of {len(idx)} within 15%" if g else None)
    hi = max(pred + meas) * 1.05
    ax.plot([0, hi], [0, hi], color="black", linewidth=1, label="predicted = measured")
    ax.fill_between([0, hi], [0, hi * 0.85], [0, hi * 1.15], color="green", alpha=0.1, label="±15%")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel("measured ms per token")
    ax.set_ylabel("predicted ms per token")
    ax.set_title(f"Cost model: {within} of {len(pred)} points within 15%")
    ax.legend(fontsize=8)
    png(fig, "predicted_vs_measured", pngs, png_dir)
    notes.append(f"{what}: {len(pred)} points, {within} ({100 * within / len(pred):.0f}%) predicted within 15%")


def plot_serve(rows, pngs, png_dir, notes):
    fig, ax = plt.subplots(figsize=(6, 4))
    n = [r["clients"] for r in rows]
    ax.plot(n, [r["tok_s"] for r in rows], marker="o", label="aggregate decode tok/s")
    ax.plot(n, [r["ceiling"] for r in rows], linestyle="--", label="batched ceiling (one N-row pass)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("clients at once")
    ax.set_ylabel("tok/s")
    ax.set_title("Server scaling against client count")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    png(fig, "server_scaling", pngs, png_dir)
    notes.append(f"server scaling: {len(rows)} client counts, up to {max(n)}")


def plot_recovery(rows, pngs, png_dir, notes):
    fig, ax = plt.subplots(figsize=(6, 4))
    t = [r["positions"] for r in rows]
    ax.plot(t, [r["replay_ms"] for r in rows], marker="o", label="kill -9: replay on the standby")
    ax.plot(t, [r["kv_move_ms"] for r in rows], marker="s", label="drain: KV cache moved")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("context (positions)")
    ax.set_ylabel("pause ms")
    ax.set_title("Recovery time against context")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    png(fig, "recovery", pngs, png_dir)
    notes.append(f"recovery: contexts {t}")


def plot_run(docs, pngs, png_dir, notes):
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for d in docs:
        steps = d["steps"][1:]
        ax.plot([s["k"] for s in steps], [s["step_ms"] for s in steps], label=d["config"].get("split", "local"))
    ax.set_xlabel("generated token")
    ax.set_ylabel("step ms")
    ax.set_title("seam run: time per decode step")
    ax.legend(fontsize=7)
    png(fig, "run_steps", pngs, png_dir)
    notes.append(f"seam run records: {len(docs)}")


def main():
    ap = argparse.ArgumentParser(prog="seam report", description=__doc__.split("\n\n")[0],
                                 epilog="e.g. seam report sweep.csv bench/results/sweep-2026-11-23.csv -o report.html")
    ap.add_argument("results", nargs="+", help="result files (seam bench, sweep CSV, bench --json, run --json)")
    ap.add_argument("-o", "--output", default="report.html", help="the HTML page (default %(default)s)")
    ap.add_argument("--png-dir", help="also write each plot as a PNG into this folder")
    ap.add_argument("--title", default="seam report")
    a = ap.parse_args()
    global plt
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("seam report: matplotlib is missing: run it with a Python that has it "
                 "(SEAM_PYTHON=...; make venv-report puts it into the build venv)")
    groups = {}
    for path in a.results:
        try:
            kind, rows = read_any(path)
        except (OSError, ValueError) as e:
            sys.exit(f"seam report: {e}")
        groups.setdefault(kind, []).extend(rows)
    if a.png_dir:
        os.makedirs(a.png_dir, exist_ok=True)
    pngs, notes = [], []
    draw = {"bench": plot_bench, "sweep": plot_sweep, "serve": plot_serve, "recovery": plot_recovery,
            "run": plot_run}
    for kind in ("bench", "sweep", "serve", "recovery", "run"):
        if kind in groups:
            draw[kind](groups[kind], pngs, a.png_dir, notes)
    body = "\n".join(f'<figure><img alt="{html.escape(n)}" src="data:image/png;base64,{b}">'
                     f"<figcaption>{html.escape(n.replace('_', ' '))}</figcaption></figure>"
                     for n, b in pngs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(a.title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:1em;vertical-align:top}} img{{max-width:100%}}
figcaption{{text-align:center;color:#555}}</style></head>
<body><h1>{html.escape(a.title)}</h1>
<ul>{''.join(f'<li>{html.escape(n)}</li>' for n in notes)}</ul>
{body}
</body></html>
"""
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(page)
    print(f"seam report: {len(pngs)} plots from {len(a.results)} files -> {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
