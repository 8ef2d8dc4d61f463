"""The core layer: errors, file I/O, typed records (and run-directory file names), the
registry, statistics, progress and sharding.

Imports nothing from the rest of the project; every other layer may import it.
"""
