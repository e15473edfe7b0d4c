"""The study: how well an LSTM approximates a linear dynamical system (reference live script, part 2)."""
