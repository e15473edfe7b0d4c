"""The Kalman experiment's figures and report (Markdown + HTML), from the results dictionary alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .kalman_experiment import INPUT_ONLY_NETS, MSE_ROWS, NETS, summarize
from .report import Report, fmt

__all__ = ["write_figures", "build_report", "findings"]

_LABELS = {"kalman": "Kalman predictor (optimum)", "rnn_kalman_computed": "RNN, computed Kalman weights (untrained)",
           "rnn": "Elman RNN, random start", "rnn_kalman_init": "Elman RNN, started at the Kalman weights",
           "gru": "GRU, random start", "lstm": "LSTM, random start", "optimum": "noise-free model (optimum)"}
_COLORS = {"kalman": "k", "rnn": "tab:blue", "rnn_kalman_init": "tab:cyan", "gru": "tab:green", "lstm": "tab:red"}


def _complex(pairs) -> np.ndarray:
    return np.array([complex(re, im) for re, im in pairs])


def _figure(w=7.0, h=4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h))


def plot_traces(traces: dict, Ts, path, steps: int = 200):
    """True state x₁, measurements, the target z[k+1] − D·u[k+1], the Kalman and network predictions,
    and each prediction's error below (held-sample stairs, the package's plot style). ``Ts`` in
    seconds, or None for steps. Saves ``path``; returns the Figure."""
    from ..viz.plot_style import figure_axes, save_figure, stairs, style_axes, time_label

    fig, (ax1, ax2, ax3) = figure_axes(3, file=path, height_ratios=[1, 2, 1], figsize=(8.0, 7.2))
    k = np.arange(min(steps, len(traces["target"])))
    step = float(Ts or 1.0)
    t = k * step
    stairs(ax1, t, traces["x"][k + 1, 0], step, color="0.3", lw=1.2, label="true state x₁[k+1]")
    style_axes(ax1, ylabel="state x₁")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.plot(t, traces["z"][k + 1, 0], ".", color="0.6", ms=3, label="measurement z[k+1]")
    stairs(ax2, t, traces["target"][k, 0], step, color="0.3", lw=0.8, label="target z[k+1] − D·u[k+1]")
    names = [name for name in ("kalman", "rnn", "rnn_kalman_init", "gru", "lstm") if name in traces]
    for name in names:
        stairs(ax2, t, traces[name][k, 0], step, color=_COLORS[name], lw=1.0 if name != "kalman" else 1.6,
               label=_LABELS[name])
        stairs(ax3, t, traces[name][k, 0] - traces["target"][k, 0], step, color=_COLORS[name],
               lw=0.8 if name != "kalman" else 1.4)
    style_axes(ax2, ylabel="one-step prediction")
    ax2.legend(loc="upper right", fontsize=7, ncol=2)
    style_axes(ax3, xlabel=time_label(Ts), ylabel="prediction − target", title="prediction error")
    fig.suptitle("Held-out sequence: the networks and the Kalman filter predict z one step ahead")
    save_figure(fig, path, dpi=110)
    return fig


def plot_eigenvalues(system: dict, path) -> None:
    """eig(A), eig(A − L·H) and each trained network's Jacobian eigenvalues (every seed), with the unit circle."""
    fig = _figure(9.0, 4.4)
    axes = fig.subplots(1, 2)
    th = np.linspace(0, 2 * np.pi, 361)
    for ax, key, title, nets in ((axes[0], "eig", "fed [u; z]: should learn eig(A − L·H)", NETS),
                                 (axes[1], "eig_inputs_only", "fed u only: should learn eig(A)", INPUT_ONLY_NETS)):
        ax.plot(np.cos(th), np.sin(th), color="0.75", lw=0.8)
        for name in nets:
            first = True
            for row in system["seeds"]:
                e = _complex(row[key][name])
                ax.plot(e.real, e.imag, "o", ms=4, mfc="none", color=_COLORS[name],
                        label=_LABELS[name] if first else None)
                first = False
        e = _complex(system["eig_true"])
        ax.plot(e.real, e.imag, "x", color="k", ms=9, mew=2, label="eig(A)")
        e = _complex(system["eig_filter"])
        ax.plot(e.real, e.imag, "+", color="m", ms=11, mew=2, label="eig(A − L·H)")
        ax.set_aspect("equal")
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-1.1, 1.1)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"{system['name']}: Jacobian eigenvalues of the trained networks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_mse(system: dict, path) -> None:
    """Held-out MSE / optimum per network, mean over seeds with min–max bars, both tasks."""
    summ = summarize(system)
    fig = _figure(8.0, 3.8)
    ax = fig.add_subplot()
    names = [n for n in MSE_ROWS if n != "kalman"] + [f"{n} (u only)" for n in INPUT_ONLY_NETS]
    means, lo, hi = [], [], []
    for n in names:
        key, net = ("ratio_inputs_only", n.split()[0]) if n.endswith("(u only)") else ("ratio", n)
        s = summ[key][net]
        means.append(s["mean"])
        lo.append(s["mean"] - s["min"])
        hi.append(s["max"] - s["mean"])
    x = np.arange(len(names))
    ax.bar(x, means, yerr=[lo, hi], color=["tab:gray", "tab:blue", "tab:cyan", "tab:green", "tab:red",
                                           "tab:blue", "tab:green", "tab:red"][:len(names)], alpha=0.8)
    ax.axhline(1.0, color="k", lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("held-out MSE / optimum")
    ax.set_title(f"{system['name']}: MSE relative to the optimum (1 = Kalman filter, or noise-free model for u only)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_figures(results: dict, out: Path) -> dict:
    """Every figure into ``out``; returns figure role → file name."""
    from .kalman_rnn import plot_scl_sweep

    figs = {}
    if results.get("traces"):
        figs["traces"] = "kalman_traces.png"
        plot_traces(results["traces"], results["systems"][0]["Ts"], out / figs["traces"])
    for s in results["systems"]:
        figs[f"eig_{s['name']}"] = f"kalman_eig_{s['name']}.png"
        plot_eigenvalues(s, out / figs[f"eig_{s['name']}"])
        figs[f"mse_{s['name']}"] = f"kalman_mse_{s['name']}.png"
        plot_mse(s, out / figs[f"mse_{s['name']}"])
    figs["sweep"] = "kalman_rnn_scl.png"
    plot_scl_sweep(results["sweep"], out / figs["sweep"],
                   title=f"Computed Kalman RNN vs the Kalman predictor ({results['systems'][0]['name']})")
    return figs


def findings(system: dict) -> list[str]:
    """Plain statements about what matched and what did not, from the numbers (thresholds stated)."""
    summ = summarize(system)
    seeds = len(system["seeds"])
    out = []
    near = [n for n in NETS if summ["ratio"][n]["max"] <= 1.05]
    far = [n for n in NETS if summ["ratio"][n]["max"] > 1.05]
    out.append(f"Fed the measurements, {', '.join(near) or 'no network'} came within 5 % of the Kalman filter's MSE "
               f"on every one of the {seeds} seed(s); {', '.join(far) or 'none'} did not on at least one.")
    comp = summ["ratio"].get("rnn_kalman_computed")
    if comp is not None:
        out.append(f"The RNN with computed Kalman weights (untrained) has MSE ratio {comp['mean']:.4f}: the filter "
                   "is an Elman RNN with a scaled, nearly linear tanh.")
    eig_ok = [n for n in NETS if summ["eig_match"][n]["max"] <= 0.05]
    out.append(f"Jacobian eigenvalues within 0.05 of eig(A − L·H) on every seed: {', '.join(eig_ok) or 'none'}; "
               "matched distances (mean over seeds): "
               + ", ".join(f"{n} {summ['eig_match'][n]['mean']:.3f}" for n in NETS) + ".")
    eig_u = [n for n in INPUT_ONLY_NETS if summ["eig_match_inputs_only"][n]["max"] <= 0.05]
    out.append(f"Fed u only, eigenvalues within 0.05 of eig(A) on every seed: {', '.join(eig_u) or 'none'}; "
               + ", ".join(f"{n} {summ['eig_match_inputs_only'][n]['mean']:.3f}" for n in INPUT_ONLY_NETS) + ".")
    out.append("Transfer functions (basis-free; max over frequency of |T_net − T| / max |T|, mean over seeds): "
               "from u " + ", ".join(f"{n} {summ['tf_error_u'][n]['mean']:.3f}" for n in NETS)
               + "; from z " + ", ".join(f"{n} {summ['tf_error_z'][n]['mean']:.3f}" for n in NETS)
               + "; fed u only " + ", ".join(f"{n} {summ['tf_error_inputs_only'][n]['mean']:.3f}"
                                             for n in INPUT_ONLY_NETS) + ".")
    return out


def _eig_text(pairs) -> str:
    return ", ".join(f"{re:.3f}{im:+.3f}j" if abs(im) > 5e-4 else f"{re:.3f}" for re, im in pairs)


def build_report(results: dict, figs: dict) -> Report:
    """The report document (see :func:`blockloop.study.report.Report.write`)."""
    cfg = results["config"]
    r = Report("RNNs and the Kalman filter")
    r.paragraph("Are an Elman RNN and a Kalman filter the same machine modulo activations, and do a trained "
                "network's weights reveal the dynamics A? Data come from x[k+1] = A·x[k] + B·u[k] + w[k], "
                "z[k] = H·x[k] + D·u[k] + v[k] (u[k] reaches the state at k + 1 and the measurement at k). The task: "
                "from v[k] = [u[k]; z[k]] predict z[k+1] − D·u[k+1]; the steady-state Kalman predictor is the "
                "optimum. Networks of n units (one layer, linear head) are trained by blockloop's own "
                "backpropagation through their diagrams (MATLAB's Adam, float64), on data scaled to unit std; MSEs "
                "are in the original units, on held-out sequences, after the first "
                f"{cfg['burn']} steps. Fed u only, the optimum is the noise-free model and the network should "
                "learn the system (the LSTM study's setting).")
    r.table([["setting", "value"], ["steps per sequence", cfg["steps"]],
             ["training / held-out sequences", f"{cfg['train_batch']} / {cfg['test_batch']}"],
             ["seeds", ", ".join(str(s) for s in cfg["seeds"])], ["epochs (full batch)", cfg["epochs"]],
             ["initial learning rate", f"{cfg['lr0']:g} (halved every epochs/4; a tenth of it from the Kalman "
                                       "weights)"],
             ["Q, R (unless the system file gives them)", f"process_std²·B·Bᵀ with process_std = {cfg['process_std']}"
                                                           f"; noise_ratio² · Var(output), noise_ratio = "
                                                           f"{cfg['noise_ratio']}"],
             ["wall time", f"{results['wall_s']:.1f} s"]])
    if "traces" in figs:
        r.image(figs["traces"], "True state, measurements, Kalman and network one-step predictions")
    for s in results["systems"]:
        summ = summarize(s)
        r.heading(f"System: {s['name']} (n = {s['n']}, m = {s['m']}, p = {s['p']})")
        r.table([["quantity", "value"], ["eig(A)", _eig_text(s["eig_true"])],
                 ["eig(A − L·H) (filter)", _eig_text(s["eig_filter"])],
                 ["Kalman MSE, theory trace(S)/p", fmt(s["mse_theory"])],
                 ["Kalman MSE, held-out (mean over seeds)",
                  fmt(float(np.mean([row["mse"]["kalman"] for row in s["seeds"]])))],
                 ["filter diagram vs pykalman, max |Δx̂|", fmt(s["kf_vs_library_max_abs"], 3)]])
        r.heading("Held-out MSE, fed the measurements", 3)
        rows = [["predictor", "MSE (mean)", "MSE / Kalman (mean)", "min", "max"]]
        for n in MSE_ROWS:
            vals = [row["mse"][n] for row in s["seeds"]]
            rr = summ["ratio"][n]
            rows.append([_LABELS[n], fmt(float(np.mean(vals))), fmt(rr["mean"], 4), fmt(rr["min"], 4),
                         fmt(rr["max"], 4)])
        r.table(rows)
        r.heading("Held-out MSE, fed u only", 3)
        rows = [["predictor", "MSE (mean)", "MSE / optimum (mean)", "min", "max"]]
        for n in ("optimum",) + INPUT_ONLY_NETS:
            vals = [row["mse_inputs_only"][n] for row in s["seeds"]]
            rr = summ["ratio_inputs_only"][n]
            rows.append([_LABELS[n], fmt(float(np.mean(vals))), fmt(rr["mean"], 4), fmt(rr["min"], 4),
                         fmt(rr["max"], 4)])
        r.table(rows)
        r.image(figs[f"mse_{s['name']}"], f"{s['name']}: MSE relative to the optimum")
        r.heading("Linearised networks: eigenvalues and transfer functions", 3)
        r.paragraph("Each network's one-step map is linearised at its equilibrium under zero input: J = ∂s[k]/∂s[k−1] "
                    "by reverse-mode differentiation of the diagram (largest difference from central finite "
                    "differences: " + fmt(max(max(row["jacobian_fd_error"].values()) for row in s["seeds"]), 2)
                    + "). 'Match' is the largest distance between a target eigenvalue and the network eigenvalue "
                    "paired with it (one-to-one; the LSTM has 2n eigenvalues, for h and c). Transfer-function error: "
                    "max over frequency of |T_net − T| / max |T|.")
        rows = [["network", "eigenvalues (seed " + str(s["seeds"][0]["seed"]) + ")", "eig match (mean)",
                 "TF error from u", "TF error from z"]]
        for n in NETS:
            rows.append([_LABELS[n] + ", fed [u; z]", _eig_text(s["seeds"][0]["eig"][n]),
                         fmt(summ["eig_match"][n]["mean"], 3), fmt(summ["tf_error_u"][n]["mean"], 3),
                         fmt(summ["tf_error_z"][n]["mean"], 3)])
        for n in INPUT_ONLY_NETS:
            rows.append([_LABELS[n] + ", fed u only", _eig_text(s["seeds"][0]["eig_inputs_only"][n]),
                         fmt(summ["eig_match_inputs_only"][n]["mean"], 3),
                         fmt(summ["tf_error_inputs_only"][n]["mean"], 3), "–"])
        r.table(rows)
        r.image(figs[f"eig_{s['name']}"], f"{s['name']}: eigenvalues in the complex plane, unit circle in grey")
        r.heading("What matches and what does not", 3)
        for line in findings(s):
            r.paragraph(line)
    r.heading("The Kalman filter as an Elman RNN: error against scl")
    r.paragraph("W = scl·[B − L·D, L], R = A − L·H, b = 0, F = H/scl: the hidden state is scl·x̂[k+1|k]. The error "
                "against the filter falls like scl² as tanh's cubic term shrinks (s − s³/3), as in the LSTM study's "
                "error against scl; at scl near 1 tanh saturates and the RNN no longer tracks the filter.")
    r.table([["scl", "norm(y_rnn − y_kf)", "max |Δ| / max |y|", "max |h|"]]
            + [[f"{row['scl']:g}", fmt(row["error_norm"], 3), fmt(row["relative"], 3), fmt(row["max_hidden"], 3)]
               for row in results["sweep"]])
    r.image(figs["sweep"], "Computed Kalman RNN against the Kalman predictor, as a function of scl")
    return r
