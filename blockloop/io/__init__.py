"""Reading and writing diagrams and data files.

``save_diagram(d, "net.json")`` writes the structure as JSON and the arrays to ``net.npz``;
``load_diagram("net.json")`` reads them back (see ``docs/diagram-format.md``).
"""

from ..errors import DiagramFileError
from .diagram_file import SCHEMA_VERSION, arrays_path, decode_diagram, encode_diagram, load_diagram, save_diagram
from .registry import register_block_type, registered_block_types, unregister_block_type

__all__ = ["save_diagram", "load_diagram", "encode_diagram", "decode_diagram", "arrays_path", "SCHEMA_VERSION",
           "DiagramFileError", "register_block_type", "unregister_block_type", "registered_block_types"]
