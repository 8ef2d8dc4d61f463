"""Reports: pure functions from result and quality records to text. Never imports model code."""
