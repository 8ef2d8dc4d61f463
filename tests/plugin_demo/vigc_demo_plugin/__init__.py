"""A demo vigc-bench plugin: a counting benchmark and a counting data generator."""
