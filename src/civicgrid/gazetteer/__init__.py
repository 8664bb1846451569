"""The address gazetteer (地名地址库): division names with the short forms people say, and named
places (compounds, schools, markets, bus stops) imported from CSV; a search that tolerates missing
levels, ranks every match with its full chain, and selects one only when the words name one."""
