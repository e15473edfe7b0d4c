"""Reading and writing diagrams and data files."""
