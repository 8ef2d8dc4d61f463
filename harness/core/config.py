"""The base of every typed config: a frozen pydantic model that rejects unknown keys.

A study config is built from sections (`harness.study.config`), a stage's config is one
(`harness.stages.*`), and both hash through `config_dict`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of config sections: frozen, unknown keys rejected."""

    # allow_inf_nan=False: `lr: .inf` or a NaN would run the whole study on NaN weights.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def config_dict(cfg: BaseModel) -> dict[str, Any]:
    """A JSON-able dict of a config section (what stage hashes are taken of)."""
    return cfg.model_dump(mode="json")
