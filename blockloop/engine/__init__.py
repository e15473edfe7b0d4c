"""The engine: diagram container, flattening, checks, compilation and simulation."""

from .compile import compile_diagram
from .diagram import BlockHandle, Diagram, PortRef
from .flatten import flatten
from .loops import FeedbackLoop, LoopReport, feedback_loops
from .port_graph import check_algebraic_loops, port_graph
from .program import Program
from .result import Result
from .simulate import RunPlan, plan_run, simulate

__all__ = [
    "Diagram",
    "BlockHandle",
    "PortRef",
    "flatten",
    "feedback_loops",
    "FeedbackLoop",
    "LoopReport",
    "port_graph",
    "check_algebraic_loops",
    "compile_diagram",
    "Program",
    "simulate",
    "plan_run",
    "RunPlan",
    "Result",
]

# Gradients live in blockloop.autodiff; they are offered here too, next to simulate. They are
# imported on first access (PEP 562): blockloop.autodiff imports the engine, so an import here
# would be circular when blockloop.autodiff is imported first.
__all__ += ["gradient", "fit"]


def __getattr__(name: str):
    if name in ("gradient", "fit"):
        from .. import autodiff

        return getattr(autodiff, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
