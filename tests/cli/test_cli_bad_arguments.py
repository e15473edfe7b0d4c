"""Odd command-line arguments end in a one-line error and exit status 2, never a Python traceback."""

import numpy as np
import pytest

from blockloop.cli import main


def fails_cleanly(capsys, argv, *needles):
    with pytest.raises(SystemExit) as exc:  # argparse usage errors exit 2 themselves
        status = main(argv)
        raise SystemExit(status)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv, needle", [
    (["crosscheck", "--steps", "-3"], "argument --steps: expected a positive integer"),
    (["crosscheck", "--batch", "0"], "argument --batch: expected a positive integer"),
    (["crosscheck", "--batch", "-2"], "argument --batch: expected a positive integer"),
    (["crosscheck", "--seed", "-1"], "argument --seed: expected an integer from 0"),
    (["crosscheck", "--ts", "0"], "argument --ts: expected a positive number"),
    (["crosscheck", "--ts", "nan"], "argument --ts: expected a positive number"),
    (["approx", "--seed", "-1"], "argument --seed: expected an integer from 0"),
    (["reproduce", "--seed", "-1"], "argument --seed: expected an integer from 0"),
    (["reproduce", "--threads", "0"], "argument --threads: expected a positive integer"),
    (["simulate", "x.json", "--ts", "-1"], "argument --ts: expected a positive number"),
    (["simulate", "x.json", "--steps", "0"], "argument --steps: expected a positive integer"),
])
def test_bad_numbers_are_usage_errors(capsys, argv, needle):
    fails_cleanly(capsys, argv, needle)


def test_approx_plot_needs_a_picture_suffix(capsys):
    fails_cleanly(capsys, ["approx", "--plot", "out.txt"], "--plot out.txt: use a file name ending in .png")


def test_unwritable_output_paths_are_clean_errors(capsys, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    fails_cleanly(capsys, ["draw", "lstm", "--out", str(missing / "x.dot")], "No such file or directory")
    fails_cleanly(capsys, ["approx", "--steps", "5", "--plot", str(missing / "x.png")], "No such file or directory")


def test_unwritable_simulate_output_is_a_clean_error(capsys, tmp_path):
    from blockloop.diagrams.examples import accumulator
    from blockloop.io import save_diagram

    save_diagram(accumulator(), tmp_path / "acc.json")
    np.save(tmp_path / "u.npy", np.ones((3, 1)))
    err = fails_cleanly(capsys, ["simulate", str(tmp_path / "acc.json"), "--input", str(tmp_path / "u.npy"),
                                 "--out", str(tmp_path / "no" / "r.npz")], "no such folder", str(tmp_path / "no"))
    assert ".tmp" not in err  # the message names the user's path, not the temporary file


def test_save_diagram_into_a_missing_folder_names_the_folder(tmp_path):
    from blockloop.diagrams.examples import accumulator
    from blockloop.io import save_diagram

    with pytest.raises(FileNotFoundError, match="no such folder") as exc:
        save_diagram(accumulator(), tmp_path / "missing" / "acc.json")
    assert ".tmp" not in str(exc.value)


def test_approx_with_a_single_step(capsys):
    assert main(["approx", "--steps", "1", "--json"]) == 0
    assert '"steps": 1' in capsys.readouterr().out
