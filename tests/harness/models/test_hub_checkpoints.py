"""Hub-layout checkpoints of the real classes through the adapter: image tokens are placed as
each real processor places them, and generation runs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from harness.models.adapter import load_vlm  # noqa: E402
from tests.harness._tiny_models import images  # noqa: E402

PROMPT = "What is in the image?"


def test_hub_layout_files(hub_checkpoints):
    for arch in ("llava", "instructblip"):
        names = {p.name for p in hub_checkpoints.of(arch).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert "chat_template.jinja" in {p.name for p in hub_checkpoints.llava.iterdir()}
    assert "qformer_tokenizer" in {p.name for p in hub_checkpoints.instructblip.iterdir()}


def test_instructblip_prompt_is_the_processors(hub_checkpoints, monkeypatch):
    """The tokenizer has no `image_token` (the bug: AttributeError); the processor puts its
    query tokens before BOS and the text, and so does the adapter."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vlm = load_vlm(hub_checkpoints.instructblip)
    assert not hasattr(vlm.tokenizer, "image_token") and vlm.tokenizer.chat_template is None
    assert vlm.image_prefix and vlm.n_image_tokens == vlm.model.config.num_query_tokens
    assert vlm.image_token_id == vlm.model.config.image_token_index
    # Without a chat template the prompt is the plain text (LAVIS's format), answer after a space.
    want = vlm.processor(images=images(1, 32), text=[PROMPT + " "])["input_ids"][0]
    assert vlm.prompt_ids(PROMPT) == list(want)


def test_llava_prompt_is_the_processors(hub_checkpoints, monkeypatch):
    """llava-hf's template writes no BOS; the processor's tokenizer adds it, and so does the adapter."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vlm = load_vlm(hub_checkpoints.llava)
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    text = vlm.processor.apply_chat_template(msgs, add_generation_prompt=True)
    want = vlm.processor(images=images(1, 32), text=[text])["input_ids"][0]
    assert vlm.prompt_ids(PROMPT) == list(want)
    assert list(want).count(vlm.image_token_id) == vlm.n_image_tokens


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_cached_features_match_the_models_own_forward(arch, hub_checkpoints):
    vlm = load_vlm(hub_checkpoints.of(arch))
    imgs = images(2, 32)
    feats = vlm.image_features(imgs)
    ids = torch.tensor([vlm.prompt_ids(PROMPT)] * 2)
    mask = torch.ones_like(ids)
    kw = {}
    if arch == "instructblip":
        q = vlm.processor.qformer_tokenizer([PROMPT] * 2, add_special_tokens=False, return_tensors="pt")
        kw = {"qformer_input_ids": q["input_ids"], "qformer_attention_mask": q["attention_mask"]}
    with torch.no_grad():
        ours = vlm.forward(ids, mask, feats, None, kw.get("qformer_input_ids"), kw.get("qformer_attention_mask"))
        theirs = vlm.model(input_ids=ids, attention_mask=mask, pixel_values=vlm.pixel_values(imgs), **kw)
    assert torch.allclose(ours.logits, theirs.logits, atol=1e-4)
    outs = vlm.generate(feats, [PROMPT, "Describe it."], max_new_tokens=4)
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
