"""Sibling activations fused into one vector op, with the same bits as the separate ops.

An LSTM's gate sum is split by a Demux into four views, each fed to its own σ or tanh block:
four ops of a few rows each, every one too short to fill a SIMD vector. When consecutive
outputs of one Demux each feed an activation block, those blocks' outputs are given
consecutive rows and run as one op over all their rows (opcode ``ACTIVATIONS`` in
:mod:`.opcodes`), with a per-row kind (σ or tanh). The fused kernel
(:func:`.mathfn.sigmoid_or_tanh`) performs, for each row, exactly the floating-point
operations of the block's own :func:`.mathfn.sigmoid` or :func:`.mathfn.tanh`, so fusing never
changes a result (tested bit for bit); only the schedule position of the later blocks moves up
to the first one's, which is legal because a Demux view depends on nothing but the Demux input.
"""

from __future__ import annotations

__all__ = ["ACTIVATION_KINDS", "activation_groups"]

#: Activation op name → the row kind the fused kernel reads from ``ipar``.
ACTIVATION_KINDS = {"sigmoid": 0, "tanh": 1}


def activation_groups(program, lowerings) -> list[list[str]]:
    """Runs of ≥ 2 activation blocks fed by consecutive outputs of one Demux, in output order.

    ``lowerings``: block name → its trusted :class:`~blockloop.blocks.base.Lowering`. Each
    Demux output contributes the first activation block (in schedule order) that it feeds.
    """
    by_index = {i: key for key, i in program.signal_index.items()}
    fed: dict[tuple[str, str], str] = {}
    for name in program.order:
        block = program.blocks[name]
        if lowerings[name].op not in ACTIVATION_KINDS or len(block.inputs) != 1:
            continue
        source, port = by_index[program.driver_index(name, block.inputs[0])]
        if lowerings[source].op == "split":
            fed.setdefault((source, port), name)
    groups = []
    for name in program.order:
        if lowerings[name].op != "split":
            continue
        run: list[str] = []
        for port in [*program.blocks[name].outputs, None]:
            member = fed.get((name, port)) if port is not None else None
            if member is not None:
                run.append(member)
                continue
            if len(run) >= 2:
                groups.append(run)
            run = []
    return groups
