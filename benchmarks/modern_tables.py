"""Markdown tables of ``benchmarks.modern`` results (``docs/transformers.md``)."""

from __future__ import annotations

from typing import Any

SHOWN = (1, 2, 4, 8, 16, 32, 64)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}"


def accuracy_table(models: dict[str, Any]) -> list[str]:
    """Ours per model: accuracy at T, the largest drop, cost."""
    head = "| model | split | ANN | " + " | ".join(f"T={t}" for t in SHOWN)
    lines = [
        head + " | drop (samples) | spike-driven T=8 / 64 | convert (ANN passes) "
        "| simulate (× dense) |",
        "|---|---|---|" + "---|" * (len(SHOWN) + 4),
    ]
    for name, m in models.items():
        o = m["ours"]
        acc = " | ".join(_pct(o["accuracy"][str(t)]) for t in SHOWN)
        lines.append(
            f"| {name} | {m['group']} | {_pct(o['ann'])} | {acc} | {o['largest_drop_samples']} "
            f"| {_pct(o['spike_driven']['8'])} / {_pct(o['spike_driven']['64'])} % "
            f"| {o['convert_ann_passes']:.1f} | {o['simulate_over_dense']:.2f} |"
        )
    return lines


def spikingjelly_table(name: str, m: dict[str, Any]) -> list[str]:
    """Ours against STA's spiking encoder per T: accuracy and spike-driven share."""
    sta = m.get("spikingjelly_sta", {})
    o = m["ours"]
    lines = [
        f"**{name}** (ANN {_pct(o['ann'])} %)",
        "",
        "| T | ours | STA spiking encoder | ours: spike-driven | STA: spike-driven "
        "| STA: most spikes per value and step |",
        "|---|---|---|---|---|---|",
    ]
    for t in SHOWN:
        s = sta.get(str(t), {})
        theirs = s.get("error", _pct(s.get("accuracy"))) if s else "not run"
        lines.append(
            f"| {t} | {_pct(o['accuracy'][str(t)])} | {theirs} "
            f"| {_pct(o['spike_driven'][str(t)])} % | {_pct(s.get('spike_driven'))} % "
            f"| {s.get('max_spikes_per_step', 'n/a')} |"
        )
    return lines


def cnn_table(models: dict[str, Any]) -> list[str]:
    """SpikingJelly's CNN recipes on the modern CNN families: best per T, or the error."""
    lines = ["| model | SpikingJelly | " + " | ".join(f"T={t}" for t in SHOWN) + " |"]
    lines.append("|---|---|" + "---|" * len(SHOWN))
    for name, m in models.items():
        cnn = m.get("spikingjelly_cnn")
        if cnn is None:
            continue
        best = cnn.get("best") or {}
        if best:
            cells = [f"{_pct(best[str(t)]['acc'])} ({best[str(t)]['recipe']})" for t in SHOWN]
            lines.append(f"| {name} | best recipe | " + " | ".join(cells) + " |")
        else:
            errors = sorted({r.get("error", "") for r in cnn["recipes"].values()})
            errors += [r["error"] for r in m.get("spikingjelly_sta", {}).values() if "error" in r]
            lines.append(f"| {name} | no recipe converts it: {'; '.join(errors)} |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    models = report["models"]
    parts = [*accuracy_table(models), ""]
    for name, m in models.items():
        sta = m.get("spikingjelly_sta") or {}
        if any("accuracy" in row for row in sta.values()):
            parts += [*spikingjelly_table(name, m), ""]
    parts += cnn_table(models)
    return "\n".join(parts)
