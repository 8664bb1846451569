"""The working-day calendar: national holidays and adjusted working days as data, and
deadline arithmetic in working hours and working days (Asia/Shanghai office hours)."""
