"""The study's report, built from ``results.json``'s dictionary alone (so it can be rebuilt later).

Each section puts our numbers next to the reference's published ones; figures are the PNGs
that :func:`blockloop.study.reproduce.run_study` wrote next to the report.
"""

from __future__ import annotations

from .params import parameter_table
from .readback import format_gate_changes
from .report import Report, fmt

__all__ = ["build_report"]

_RUN_TITLES = {"from_computed": "Run 1: training from the computed weights",
               "from_random": "Run 2: training from random weights"}


def _pv_row(label: str, entry: dict, digits: int = 5) -> list[str]:
    return [label, fmt(entry["value"], digits), fmt(entry["published"], digits)]


def _intro(r: Report, res: dict) -> None:
    cfg, env = res["config"], res["environment"]
    r.paragraph("How well can an LSTM layer approximate a linear dynamical system? This report reruns the second "
                "half of the reference live script (MATLAB, G. Campa 2023) with blockloop: the LSTM as a block "
                "diagram, trained as MATLAB's `trainNetwork` did it "
                + ("by backpropagation through time on the diagram itself" if cfg.get("trainer", "torch") == "diagram"
                   else "with PyTorch") + ". Every number below is in "
                "`results.json`, next to the reference's published value where there is one.")
    r.table([["setting", "value"], ["epochs per training run", cfg["epochs"]], ["seed", cfg["seed"]],
             ["trainer", cfg.get("trainer", "torch")], ["training precision", cfg["dtype"]],
             ["realization of the computed weights", cfg["realization"]],
             ["scl, β", f"{cfg['scl']:g}, {cfg['beta']:g}"],
             ["machine", f"{env['cpu_count']} CPU cores, torch {env['torch']} with {env['torch_threads_training']} "
                         f"thread(s), load average at start {fmt((env['loadavg_at_start'] or [None])[0], 3)}"]])
    r.paragraph("Inputs are numpy's (MATLAB's `randn` stream cannot be reproduced): validation u of 51 steps with "
                "seed + 1, training input of 1001 steps with the seed. Trajectories therefore differ from the "
                "reference's; compare the statistics (loss levels, gains), not sample-by-sample.")


def _system(r: Report, s: dict) -> None:
    r.heading("The linear system")
    r.paragraph("`zpk(-4, [-9±5i, -2±50i], 5e5)` discretised with zero-order hold at Ts = 0.01 s (python-control).")
    r.table([["quantity", "ours", "published"], _pv_row("DC gain", s["dcgain"]), _pv_row("D", s["D"]),
             ["zpk", s["zpk"]["value"], s["zpk"]["published"]]])


def _computed(r: Report, c: dict, check: dict, sweep: dict) -> None:
    r.heading("LSTM with computed weights")
    r.paragraph(f"Nn = {c['nn']} units ({c['units']}), scl = {c['scl']:g}, β = {c['beta']:g}, realization "
                f"`{c['realization']}`. Expected largest |h| (3σ under unit-variance input): "
                f"{fmt(c['max_hidden_expected'], 3)}.")
    r.table([["quantity", "ours", "published"], ["F", fmt(c["F"]["value"]), fmt(c["F"]["published"])],
             ["norm(y − z), 51 steps", fmt(c["error_norm"]["value"]), "figure only"],
             ["diagram vs nn.LSTM (float64)", fmt(c["diagram_vs_torch_float64"], 3), "–"]])
    r.image(c["figure"], "Linear system (true) and computed-weight LSTM (net) on the validation input")
    r.heading("The realization matters", 3)
    r.paragraph("Same transfer function, different state coordinates; the hidden state is scl·x, so larger "
                "states push tanh out of its linear range.")
    r.table([["realization", "norm(y − z)"]] + [[k, fmt(v, 4)] for k, v in c["error_norm_by_realization"].items()])
    r.heading("Diagram against PyTorch", 3)
    r.table([["comparison", "norm", "max |diff|", "tolerance", "ok"]] +
            [[k, fmt(v["norm"], 3), fmt(v["max_abs"], 3), fmt(v["tolerance"], 1), fmt(v["ok"])]
             for k, v in check.items() if isinstance(v, dict) and "norm" in v])
    scale = check.get("shapes", {}).get("tolerance_scale", 1.0)
    r.paragraph(f"Tolerances (1e-12 float64, 5e-6 float32, 1e-5 mixed, set for outputs of size ~1) are scaled here "
                f"by max |y| = {fmt(scale, 3)}: F ≈ 325 amplifies the rounding of h (~1e-3) into y.")
    r.heading("Error against scl and β", 3)
    rows = [row for row in sweep["rows"] if row["realization"] == c["realization"]]
    r.table([["scl", "β", "norm(y − z)", "max |h|"]] +
            [[f"{row['scl']:g}", f"{row['beta']:g}", fmt(row["error_norm"], 4), fmt(row["max_hidden"], 3)]
             for row in rows])
    r.image(sweep["figure"], "Approximation error against scl, per realization and β")


def _validation(r: Report, cases: list, title: str) -> None:
    r.table([["input", "norm(y − z)", "max |error|", "peak |y|"]] +
            [[f"{case['scale']:g}·u", fmt(case["diff_norm"], 4), fmt(case["max_abs"], 3), fmt(case["peak_abs_y"], 3)]
             for case in cases])
    ratio = cases[-1].get("ratio_to_x1")
    r.paragraph(f"{title}: the error at 3u is {fmt(ratio, 3)} times the error at u (3 for a linear network).")
    for case in cases:
        r.image(case["figure"], f"{title}, input {case['scale']:g}·u")


def _log_table(run: dict) -> list[list[str]]:
    ours = {row["epoch"]: row for row in run["log"]}
    rows = [["epoch", "RMSE", "published RMSE", "loss", "published loss", "learning rate", "published"]]
    for p in run["published_log"]:
        o = ours.get(p["epoch"])
        if o is None:
            continue
        rows.append([str(p["epoch"]), fmt(o["rmse"], 3), fmt(p["rmse"]), fmt(o["loss"], 3), fmt(p["loss"]),
                     fmt(o["lr"], 5), fmt(p["lr"])])
    last = run["log"][-1]
    if last["epoch"] not in {p["epoch"] for p in run["published_log"]}:
        rows.append([str(last["epoch"]), fmt(last["rmse"], 3), "–", fmt(last["loss"], 3), "–", fmt(last["lr"], 5), "–"])
    return rows


def _training(r: Report, tr: dict) -> None:
    r.heading("Training as trainNetwork did it")
    r.paragraph("One epoch = one full-batch iteration over the single training sequence; Adam with ε outside the "
                "bias correction; each learnable's gradient clipped to L2 norm 1; L2 regularization 1e-4 on "
                "weights only; piecewise learning rate; loss = half-MSE per time step (RMSE = √(2·loss)); "
                "one bias per gate (PyTorch's bias_hh frozen at zero with the torch trainer). "
                f"Training data: {tr['data']['steps']} steps, output RMS {fmt(tr['data']['y_rms'], 3)}.")
    r.image(tr["figure"], "Training loss per epoch (log scale); circles: the reference's log")
    for name in ("from_computed", "from_random"):
        run = tr[name]
        o = run["options"]
        r.heading(_RUN_TITLES[name], 3)
        r.paragraph(f"lr0 = {o['lr0']:g}, ×{o['drop_factor']:g} every {o['drop_period']} epochs, {o['epochs']} "
                    f"epochs, {o['dtype']}. Wall time {fmt(run['wall_s']['value'], 3)} s "
                    f"({fmt(run['us_per_epoch'], 4)} µs/epoch); MATLAB: {fmt(run['wall_s']['published'])} s.")
        r.table(_log_table(run))
        last = run["last_logged_loss"]
        ratio = last["value"] / last["published"] if last["published"] else None
        r.table([["quantity", "ours", "published"], _pv_row("loss at the last epoch", last, 3),
                 _pv_row("RMSE at the last epoch", run["last_logged_rmse"], 3),
                 ["last loss: ours / published", fmt(ratio, 3), "1"],
                 ["loss after the last update", fmt(run["final_loss"], 3), "–"],
                 ["lowest loss", fmt(run["min_loss"], 3), "–"]])
        if name == "from_computed":
            _readback(r, run)
        else:
            r.paragraph("Largest change of each gate block relative to the computed weights (as the reference "
                        f"displays them); FC bias {fmt(run['F_bias']['value'], 4)} "
                        f"(published {fmt(run['F_bias']['published'], 5)}).")
            r.table(format_gate_changes(run["gate_changes_vs_computed"]))
        _validation(r, run["validation"], _RUN_TITLES[name].split(":")[0] + " network")


def _readback(r: Report, run: dict) -> None:
    rb = run["readback"]
    r.paragraph("Linear system read back from the trained weights: Ann = R_g, Bnn = W_g/scl, Cnn = scl·F·Ann, "
                "Dnn = scl·F·Bnn.")
    r.table([["quantity", "ours", "published"], _pv_row("DC gain", rb["dcgain"]), _pv_row("Dnn", rb["D"], 3),
             ["zpk", rb["zpk"]["value"], rb["zpk"]["published"] or "–"],
             ["max |b_g|, FC bias (ignored offsets)", f"{fmt(rb['max_abs_b_g'], 3)}, {fmt(rb['F_bias'][0], 3)}",
              "1.981e-04, -1.3186e-04" if rb["dcgain"]["published"] is not None else "–"]])
    r.paragraph("Which weights moved (largest |final − initial| per gate block):")
    ours = format_gate_changes(run["gate_changes_vs_computed"])
    published = run.get("gate_changes_published")
    if published:
        theirs = format_gate_changes(published)
        ours = [a + b[1:] for a, b in zip(ours, [["", "published ΔW", "published ΔR", "published Δb"]] + theirs[1:],
                                          strict=True)]
    r.table(ours)


def _parameters(r: Report, p: dict) -> None:
    r.heading("Parameter count of stacked LSTM layers")
    r.paragraph("Per layer 4·Nn·(Ni + Nn + 1): W 4·Nn·Ni, R 4·Nn·Nn, b 4·Nn (one bias per gate and unit).")
    r.heading("The study's network", 3)
    r.table(parameter_table(p["study_network"]))
    ex = p["reference_example"]
    r.heading("The reference's example: two layers of 100 units", 3)
    r.paragraph(f"R1 + W2 + R2 = {ex['terms']['R1']} + {ex['terms']['W2']} + {ex['terms']['R2']} = {ex['counted']} "
                f"(published {ex['published']}), leaving out W1 ({ex['left_out']['W1']} for {ex['ni']} input) and "
                f"the biases ({ex['left_out']['b1']} + {ex['left_out']['b2']}); all LSTM parameters: "
                f"{ex['all_lstm_parameters']}.")


def build_report(results: dict) -> Report:
    """The :class:`~blockloop.study.report.Report` of a study's results dictionary."""
    r = Report("LSTM approximation of a linear system: blockloop reproduction")
    _intro(r, results)
    _system(r, results["system"])
    _computed(r, results["computed_weights"], results["crosscheck"], results["sweep"])
    r.heading("Validation of the computed weights", 3)
    _validation(r, results["computed_weights"]["validation"], "Computed weights")
    _training(r, results["training"])
    _parameters(r, results["parameters"])
    t = results["timing"]
    r.heading("Timing")
    r.paragraph(f"From the start of the two trainings to their sections done took {fmt(t['training_s'], 3)} s "
                "(wall time; with the diagram trainer the cross-check, sweep and figures run meanwhile), "
                f"the whole study {fmt(t['total_s'], 3)} s (MATLAB: {fmt(t['matlab_s_per_run'])} s per "
                "10 000-epoch run).")
    return r
