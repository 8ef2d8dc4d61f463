"""The study's stage functions, one module per stage kind, wired together by `harness.study.run`."""
