"""Divisions and grids: the jurisdiction tree, boundaries, and the point → grid index."""
