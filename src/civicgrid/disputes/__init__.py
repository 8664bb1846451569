"""Disputes (矛盾纠纷多元化解): registered once, mediated at the lowest level that can settle them."""
