"""ScienceQA-IMG: the ScienceQA problems that come with an image, the number LLaVA-1.5 reports.

The same official files, prompt, answer extraction and categories as `scienceqa` (see its
module docstring), asked and scored on the problems of the split whose `image` is set: what
LLaVA-1.5's tables call ScienceQA-IMG (its `eval_science_qa.py` prints it as IMG-Accuracy),
lmms-eval's `scienceqa_img` task and InstructBLIP's held-out ScienceQA. Predictions for the
split's other problems are not looked at (counted in `notes["unknown"]`), so a prediction file
written for `scienceqa` scores here too. Primary metric: accuracy over the image problems,
which equals `scienceqa`'s `IMG` category on the same predictions.

Why a benchmark of its own rather than a category: the text-only problems (about half of the
split) give the model a blank image, so a blind model sees what the seeing one sees there;
the image problems are the part of ScienceQA that measures whether a model uses the picture,
and asking only them halves the prediction work.
"""

from __future__ import annotations

from typing import Any

from benchmarks import register_benchmark
from benchmarks.scienceqa import ScienceQA


@register_benchmark("scienceqa_img")
class ScienceQAImg(ScienceQA):
    """ScienceQA on its image problems only (SQA-IMG), scored exactly as `scienceqa`."""

    name = "scienceqa_img"

    def asks(self, problem: dict[str, Any]) -> bool:
        """Only problems with an image."""
        return bool(problem.get("image"))
