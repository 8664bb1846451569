"""Record numbers people read (YZ-20261203-000123, JQ2026120300042, JF2026120300007): one
atomic per-day sequence per series, for every module."""
