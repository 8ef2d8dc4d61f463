"""`python -m harness.cli`: the `vigc-bench` command."""

from harness.cli import main

main()
