"""Study configuration: YAML validated into typed, frozen objects before any work starts.

An unknown key or a wrong type is one `BadConfig` naming the key (with a suggestion for a
misspelt one), raised before a single image is drawn. Presets live in `harness/presets/`;
`-o key=value` overrides any leaf (`-o finetune.steps=50`, `-o targets.0.name=x`).
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from harness.core.config import Section, config_dict
from harness.core.errors import BadConfig, excerpt
from harness.core.records import BASELINE_SOURCE
from harness.training.recipes import AlignConfig, FinetuneConfig, LMPretrain, VisionPretrain
from harness.world.config import WorldConfig, resolve_world_paths

NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")  # a study name: one plain folder name

PRESETS = ("smoke", "tiny", "paper")


# Names in a study resolve against their registries while the config is validated, before any
# work: a misspelt benchmark is one line with a suggestion, not an error after the world is drawn.

def _known_data_types(names: tuple[str, ...]) -> tuple[str, ...]:
    from generators.base import DATA_TYPES

    for dt in names:
        if dt not in DATA_TYPES:
            close = difflib.get_close_matches(dt, DATA_TYPES, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(f"unknown data type {dt!r}{hint} (known: {', '.join(DATA_TYPES)})")
    return names


def _known(registry: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if name not in registry:
            raise ValueError(registry.unknown(name))
    return names


class FoundationConfig(Section):
    """The pretrained parts every tiny model is assembled from."""

    vision: VisionPretrain = VisionPretrain()
    lm: LMPretrain = LMPretrain()
    align: AlignConfig = AlignConfig()
    pretrained: str | None = Field(
        None, description="load the vision towers and LM trained with this recipe instead of training them: "
                          "builtin:NAME (shipped) or a folder from `vigc-bench export-foundation`; null trains them")


class GeneratorConfig(Section):
    """A data generator run: which generator, which backend, which data types."""

    generator: str = "language_only"
    backend: Literal["template", "chat"] = "template"
    data_types: tuple[str, ...] = ("conversation", "detail", "complex_reasoning")
    per_image: int = Field(1, ge=1, description="samples per image and data type")
    files: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="LLaVA-format JSON files by data type, taken as this data instead of "
                                          "running the generator (the paper's seed: LLaVA-Instruct-150K's files)")

    @field_validator("files")
    @classmethod
    def _files(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        _known_data_types(tuple(v))
        return v

    @field_validator("generator")
    @classmethod
    def _generator(cls, v: str) -> str:
        from generators import GENERATORS

        return _known(GENERATORS, (v,))[0]

    _data_types = field_validator("data_types")(_known_data_types)


class TargetConfig(Section):
    """A model that is finetuned on each data source and then scored."""

    name: str
    arch: Literal["llava", "instructblip"] = "llava"
    checkpoint: str | None = Field(None, description="local path or hub id; None builds the tiny model")
    blind: bool = Field(False, description="train and test on blank images: the text-prior control")
    untuned: bool = Field(False, description="the untuned control: foundation and aligned connector, no "
                                             "instruction finetune; its rows have source 'none'")
    finetune: FinetuneConfig = FinetuneConfig()
    seed: int | None = Field(None, description="training seed of this target's finetunes (initialisation and "
                                               "batch order; default: the study's seed). Two targets that differ "
                                               "only in it measure how much a result moves from training alone")
    sources: tuple[str, ...] | None = Field(None, description="data sources this target is finetuned on "
                                                              "(default: the study's `sources`)")


class VICConfig(Section):
    """VIG + VIC generation with the trained VIGC model."""

    data_types: tuple[str, ...] = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")
    per_image: int = Field(1, ge=1)
    max_sentences: int | None = Field(4, ge=1, description="VIC stops after this many sentences (None: no limit)")
    at_eos: bool = Field(True, description="VIC stops when the model ends the answer")
    batch_size: int = Field(64, ge=1)

    _data_types = field_validator("data_types")(_known_data_types)


class VIGCConfig(Section):
    """The VIGC model (InstructBLIP-style) and the data it generates on the extra images."""

    enabled: bool = False
    checkpoint: str | None = Field(None, description="InstructBLIP checkpoint (local path or hub id) the VIGC model "
                                                     "starts from; None: `start_from`, else the tiny one built from the foundation")
    start_from: str | None = Field(
        None, description="a target of this study (arch instructblip) whose finetune on `seed` the VIGC model "
                          "starts from, as the paper's VIGC starts from InstructBLIP, an instruction-tuned model; "
                          "None: from `checkpoint`, else from the foundation")
    train_files: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="more training data by data type, LLaVA-format JSON (the paper: OK-VQA "
                                          "and A-OKVQA train as knowledge_vqa); types given here are not generated")
    num_query_tokens: int = Field(16, ge=1)
    train_data_types: tuple[str, ...] = ("conversation", "detail", "complex_reasoning", "knowledge_vqa")
    finetune: FinetuneConfig = FinetuneConfig(train_lm=False)
    seed: int | None = Field(None, description="training seed of the VIGC model (initialisation and batch order; "
                                               "default: the study's seed). Studies that differ only in it measure "
                                               "how much the VIGC findings move from training alone")
    generate: VICConfig = VICConfig()

    _data_types = field_validator("train_data_types")(_known_data_types)

    @field_validator("train_files")
    @classmethod
    def _train_files(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        _known_data_types(tuple(v))
        return v

    @model_validator(mode="after")
    def _check(self) -> "VIGCConfig":
        if self.generate.max_sentences is None and not self.generate.at_eos:
            raise ValueError("vigc.generate needs max_sentences, at_eos, or both")
        return self


class QualityConfig(Section):
    """Data-quality metrics of every data part."""

    enabled: bool = True
    meteor: bool = Field(False, description="METEOR needs java and ~10 s to start")


class PredictConfig(Section):
    """Inference settings for benchmark predictions."""

    batch_size: int = Field(64, ge=1)
    num_beams: int = Field(1, ge=1)
    rank: tuple[str, ...] = Field((), description="benchmarks whose multiple-choice items are answered by ranking "
                                  "their choices (InstructBLIP's protocol) instead of by writing a letter")


class StudyConfig(Section):
    """The whole study. Every field has a default, so an empty file is the tiny study."""

    name: str = "tiny"
    seed: int = 0
    world: WorldConfig = WorldConfig()
    foundation: FoundationConfig = FoundationConfig()
    seed_data: GeneratorConfig = GeneratorConfig()
    targets: tuple[TargetConfig, ...] = Field((TargetConfig(name="llava"),), validate_default=True)
    extra_data_types: tuple[str, ...] = Field(
        ("conversation", "detail", "complex_reasoning", "knowledge_vqa"),
        description="data types of every part made on the extra images (lang, gold, vig, vigc)")
    vigc: VIGCConfig = VIGCConfig()
    quality: QualityConfig = QualityConfig()
    data_files: dict[str, str] = Field(
        default_factory=dict, description="LLaVA-format JSON files to compare, by name: `seed+NAME` in `sources` "
                                          "is the seed data plus the file (image paths relative to the world's "
                                          "image folder, or absolute)")
    sources: tuple[str, ...] = ("seed",)
    benchmarks: tuple[str, ...] = ("pope", "mmbench")
    predict: PredictConfig = PredictConfig()
    bootstrap: int = Field(1000, ge=0, description="bootstrap resamples for confidence intervals")

    _data_types = field_validator("extra_data_types")(_known_data_types)

    @field_validator("targets")
    @classmethod
    def _untuned_control(cls, v: tuple[TargetConfig, ...]) -> tuple[TargetConfig, ...]:
        """A study of tiny targets always has an untuned control (the first tiny target's
        architecture, aligned, never finetuned), so it can show what instruction data teaches."""
        tiny = [t for t in v if t.checkpoint is None and not t.blind and not t.untuned]
        if tiny and not any(t.untuned for t in v):
            v = (*v, TargetConfig(name=f"{tiny[0].name}-untuned", arch=tiny[0].arch, untuned=True))
        return v

    @field_validator("benchmarks")
    @classmethod
    def _benchmarks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from benchmarks import BENCHMARKS

        return _known(BENCHMARKS, v)

    @field_validator("data_files")
    @classmethod
    def _data_files(cls, v: dict[str, str]) -> dict[str, str]:
        from harness.study.sources import check_data_file_name

        for name, path in v.items():
            check_data_file_name(name)
            if not path.strip():
                raise ValueError(f"data_files: {name!r} has an empty path")
        return v

    def data_parts(self) -> tuple[str, ...]:
        """The data parts this study makes: the baseline on the seed images; on the extra images
        language-only data, ground truth (where the world has its scenes) and VIG / VIC data
        (with `vigc.enabled`)."""
        parts = [BASELINE_SOURCE]
        if self.world.has_split("extra"):
            parts.append("lang")
            if self.world.has_scenes():
                parts += ["gold", "noisy50", "noisy100"]
            if self.vigc.enabled:
                parts += ["vig", "vigc"]
        return tuple(parts) + tuple(self.data_files)

    def target(self, name: str) -> TargetConfig | None:
        """The target named `name`, or None when the study has none of that name."""
        return next((t for t in self.targets if t.name == name), None)

    def training_seed(self, own: int | None) -> int:
        """The seed a model trains with: its own (`targets.N.seed`, `vigc.seed`), else the study's."""
        return self.seed if own is None else own

    def sources_for(self, target: TargetConfig) -> tuple[str, ...]:
        """The sources `target` is finetuned on: its own or the study's, less those whose data
        this world cannot make (a gold source on a world without scenes: skipped, see `world_note`)."""
        from harness.study.sources import resolve_source

        parts = self.data_parts()
        return tuple(s for s in target.sources or self.sources
                     if all(p in parts for p in resolve_source(s, self.data_files).parts))

    def needs_tiny_models(self) -> bool:
        """Whether any model is a tiny one built from the foundation (a target without a
        checkpoint, or the VIGC model)."""
        return any(t.checkpoint is None for t in self.targets) or (
            self.vigc.enabled and self.world.has_split("extra") and self.vigc.checkpoint is None)

    def world_note(self) -> str | None:
        """One line saying what a world without ground-truth scenes skips; None when it has them."""
        missing = self.world.missing_scenes()
        if not missing:
            return None
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        skipped = sorted({s for t in self.targets for s in t.sources or self.sources} - {
            s for t in self.targets for s in self.sources_for(t)})
        gold = "gold data" + (f" (source{'s' if len(skipped) > 1 else ''} {', '.join(skipped)})" if skipped else "")
        return (f"world: no ground-truth scenes ({missing[0]}{more}); skipping {gold}, ground-truth quality metrics "
                "and ground-truth judges")

    @model_validator(mode="after")
    def _cross_check(self) -> "StudyConfig":
        if not NAME_RE.fullmatch(self.name):  # it names a folder under runs/: no '/', no '..'
            raise ValueError(f"name {excerpt(self.name)}: use letters, digits, '.', '_' and '-' (at most 100, "
                             "not starting with '.')")
        v, w = self.foundation.vision, self.world
        if w.kind == "embedded":
            # One patch per grid cell: the vision pretraining labels each patch with its cell.
            if v.image_size != w.image_size:
                raise ValueError(f"foundation.vision.image_size ({v.image_size}) must equal world.image_size "
                                 f"({w.image_size})")
            if v.image_size % v.patch_size or v.image_size // v.patch_size != w.grid:
                raise ValueError(f"foundation.vision.patch_size ({v.patch_size}) must split the image into "
                                 f"world.grid ({w.grid}) patches per side")
        if self.vigc.num_query_tokens != w.grid ** 2 and w.kind == "embedded" and self.vigc.checkpoint is None:
            raise ValueError(f"vigc.num_query_tokens ({self.vigc.num_query_tokens}) must be world.grid squared "
                             f"({w.grid ** 2}): one query per cell")
        from harness.study.sources import resolve_source

        # Sources are resolved here, not in a field validator: a `seed+NAME` needs `data_files`.
        # Gold data (and the noisy data made from it) needs ground-truth scenes: without them
        # their sources are skipped, said once (`world_note`), so one study config runs on the
        # embedded world and on real files.
        skippable = () if self.world.has_scenes() else ("gold", "noisy50", "noisy100")
        for s in self.sources:
            try:
                source = resolve_source(s, self.data_files)
            except ValueError as e:
                raise ValueError(f"sources: {e}") from None
            missing = [p for p in source.parts if p not in self.data_parts() and p not in skippable]
            if missing:
                raise ValueError(f"sources: {s!r} needs data part(s) {', '.join(missing)}, which this study cannot "
                                 "make (see world.images.extra or world.splits.extra, vigc.enabled)")
        for t in self.targets:
            if t.untuned and (t.sources or t.checkpoint is not None or t.blind):
                raise ValueError(f"targets.{t.name}: an untuned control has no sources, no checkpoint and no blind")
            extra = [s for s in t.sources or () if s not in self.sources]
            if extra:
                raise ValueError(f"targets.{t.name}.sources: {extra} not among the study's sources {list(self.sources)}")
        if w.kind == "files" and self.needs_tiny_models() and not w.scenes_of("foundation"):
            raise ValueError("world: the tiny models' foundation is trained on the foundation split's ground-truth "
                             "scenes, and this world has none (splits.foundation.scenes); give every target a "
                             "checkpoint (and set vigc.enabled=false)")
        if w.kind == "files" and not w.scenes_of("bench"):
            drawn = [b for b in self.benchmarks if b not in w.benchmark_files]
            if drawn:
                raise ValueError(f"world.benchmark_files: no files for {', '.join(drawn)}, and no bench scenes to "
                                 "draw them from")
        unranked = [b for b in self.predict.rank if b not in self.benchmarks]
        if unranked:
            raise ValueError(f"predict.rank: {', '.join(unranked)} not among the study's benchmarks "
                             f"({', '.join(self.benchmarks)})")
        from benchmarks import BENCHMARKS

        open_ended = [b for b in self.predict.rank if not BENCHMARKS.get(b).multiple_choice]
        if open_ended:
            raise ValueError(f"predict.rank: {', '.join(open_ended)} has no multiple-choice items to rank "
                             f"(multiple choice: {', '.join(n for n in BENCHMARKS.names() if BENCHMARKS.get(n).multiple_choice)})")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"targets: duplicate target names {names}")
        self._check_start_from()
        return self

    def _check_start_from(self) -> None:
        """`vigc.start_from` names an InstructBLIP target finetuned on `seed`, and no checkpoint too."""
        name = self.vigc.start_from
        if name is None or not self.vigc.enabled:  # no VIGC model: nothing starts from the target
            return
        if self.vigc.checkpoint is not None:
            raise ValueError("vigc: give start_from or checkpoint, not both")
        t = self.target(name)
        if t is None:
            raise ValueError(f"vigc.start_from: no target named {excerpt(name)} (targets: "
                             f"{', '.join(x.name for x in self.targets)})")
        if t.arch != "instructblip" or t.blind or t.untuned:
            raise ValueError(f"vigc.start_from: target {name} must be a seeing, finetuned instructblip target "
                             "(the VIGC model is InstructBLIP-style)")
        if BASELINE_SOURCE not in self.sources_for(t):
            raise ValueError(f"vigc.start_from: target {name} is not finetuned on {BASELINE_SOURCE!r}, the data "
                             "the VIGC model starts from")


def _suggest(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    """'; did you mean X?' for an unknown key, walking `loc` down the model's fields."""
    cls: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return ""
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        cls = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if cls is None:
            return ""
    names = list(getattr(cls, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def validate(data: dict[str, Any], origin: str) -> StudyConfig:
    """Validate a config dict; the first error becomes one `BadConfig` line naming the key."""
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        # An unknown key is reported first: it is usually a typo, and the "field required"
        # error it causes for the intended key would hide it.
        err = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        key = ".".join(str(x) for x in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            raise BadConfig(f"{origin}: unknown key {key!r}{_suggest(loc, StudyConfig)}") from None
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        got_s = f" (got {got!r})" if not isinstance(got, (dict, list)) and "input" in err else ""
        # A cross-field check (empty loc) names its keys itself.
        raise BadConfig(f"{origin}: {key + ': ' if loc else ''}{msg}{got_s}") from None


def preset_path(name: str) -> Path:
    """The YAML file of a preset."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadConfig(f"unknown preset {name!r}{hint} (presets: {', '.join(PRESETS)})")
    return Path(__file__).parent / "presets" / f"{name}.yaml"


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise BadConfig(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadConfig(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise BadConfig(f"{path}: not valid YAML{where} ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadConfig(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _default_list(path: list[str]) -> list[Any]:
    """The default value at `path` of a study config if it is a list, else an empty list."""
    node: Any = StudyConfig().model_dump(mode="json")
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return []
    return node if isinstance(node, list) else []


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one `key.path=value` override in place; the value is parsed as YAML."""
    import yaml

    if "=" not in override:
        raise BadConfig(f"override {override!r}: expected key=value")
    key, _, raw = override.partition("=")
    parts = key.strip().split(".")
    if not all(parts):
        raise BadConfig(f"override {override!r}: empty key")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise BadConfig(f"override {override!r}: {'.'.join(parts[:i + 1])} is not a valid list index")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise BadConfig(f"override {override!r}: {'.'.join(parts[:i])} is not a section")
        if node.get(part) is None:
            # A list the file leaves out starts as its default, so that `-o targets.0.name=x`
            # works on a config that does not spell out `targets`.
            node[part] = _default_list(parts[:i + 1]) if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise BadConfig(f"override {override!r}: {key} is not a valid list index")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise BadConfig(f"override {override!r}: {'.'.join(parts[:-1])} is not a section")


def files_world_study(preset: str, seed: int, world: dict[str, Any]) -> dict[str, Any]:
    """A preset's config (as its YAML has it) with `seed` and the `world:` section replaced: the
    study `vigc-bench world` writes beside a world's files."""
    data = copy.deepcopy(_read_yaml(preset_path(preset)))
    data["seed"] = seed
    data["world"] = world
    return data


def load_config(path: str | Path | None = None, preset: str | None = None,
                overrides: tuple[str, ...] | list[str] = ()) -> StudyConfig:
    """Load a config file or a preset (default `tiny`), apply overrides, validate."""
    if path is not None and preset is not None:
        raise BadConfig("give --config or --preset, not both")
    src = Path(path) if path is not None else preset_path(preset or "tiny")
    data = copy.deepcopy(_read_yaml(src))
    for ov in overrides:
        apply_override(data, ov)
    if path is not None:
        # A files world's paths are relative to its YAML file, so a world folder can move whole
        # (a preset's, which lies inside the package, are relative to the working directory).
        resolve_world_paths(data, src.parent.resolve())
    origin = str(src) + (" (with overrides)" if overrides else "")
    return validate(data, origin)
