"""Matter figures (办结率、按期办结率、化解层级…): daily rollups kept exact in every transaction."""
