"""Tiny VLMs: checkpoint round trip through the adapter, batched = single generation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from harness.core.errors import MissingResource  # noqa: E402
from harness.models.adapter import load_vlm  # noqa: E402
from tests.harness._tiny_models import images, tiny_vlm  # noqa: E402


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_checkpoint_round_trip_offline(arch, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vlm = tiny_vlm(arch)
    vlm.save(tmp_path / "ckpt")
    assert any(p.suffix == ".safetensors" for p in (tmp_path / "ckpt").iterdir())
    assert not any(p.suffix == ".bin" for p in (tmp_path / "ckpt").iterdir())
    back = load_vlm(tmp_path / "ckpt")
    assert back.arch == arch
    imgs = images(2)
    f1, f2 = vlm.image_features(imgs), back.image_features(imgs)
    assert torch.equal(f1, f2)
    prompts = ["What colour is the star?", "Is there a circle in the image?"]
    assert vlm.generate(f1, prompts, max_new_tokens=6) == back.generate(f2, prompts, max_new_tokens=6)
    # The chat template travels with the checkpoint.
    assert back.tokenizer.chat_template == vlm.tokenizer.chat_template


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_batched_generation_equals_one_by_one(arch):
    vlm = tiny_vlm(arch, seed=1)
    imgs = images(3)
    feats = vlm.image_features(imgs)
    prompts = ["What colour is the star?", "How many shapes are in the image? Answer briefly.", "Describe it."]
    batched = vlm.generate(feats, prompts, max_new_tokens=8)
    single = [vlm.generate(feats[i:i + 1], [p], max_new_tokens=8)[0] for i, p in enumerate(prompts)]
    assert batched == single


def test_cached_features_forward_matches_pixel_forward():
    vlm = tiny_vlm("llava", seed=2)
    imgs = images(2)
    feats = vlm.image_features(imgs)
    ids = torch.tensor([vlm.prompt_ids("What colour is the star?")] * 2)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a = vlm.forward(ids, mask, feats).logits
        b = vlm.model(input_ids=ids, attention_mask=mask, pixel_values=vlm.pixel_values(imgs)).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(MissingResource, match="no such checkpoint"):
        load_vlm(tmp_path / "nope")


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_beam_search_generates(arch):
    vlm = tiny_vlm(arch, seed=4)
    feats = vlm.image_features(images(2))
    prompts = ["What colour is the star?", "Describe it."]
    beams = vlm.generate(feats, prompts, max_new_tokens=6, num_beams=3)
    assert len(beams) == 2 and all(isinstance(b, str) for b in beams)
    assert vlm.generate(feats, prompts, max_new_tokens=6, num_beams=1) == vlm.generate(feats, prompts, max_new_tokens=6)


def test_qformer_queries_start_on_their_cells():
    """After `init_queries_on_cells`, query i's first cross-attention peaks on patch i."""
    import torch

    from harness.stages.foundation import init_queries_on_cells

    vlm = tiny_vlm("instructblip")
    n, d = vlm.model.config.num_query_tokens, vlm.model.config.vision_config.hidden_size
    g = torch.Generator().manual_seed(0)
    position = torch.randn(n, d, generator=g)
    feats = torch.randn(64, n + 1, d, generator=g)  # token 0 plays CLS
    feats[:, 1:] += 2 * position
    share = init_queries_on_cells(vlm, feats, "Describe the image.")
    assert share > 0.95
    m = vlm.model
    qids, qmask = vlm.qformer_encode(["Describe the image."] * 8)
    with torch.no_grad():
        out = m.qformer(input_ids=qids, attention_mask=torch.cat([torch.ones(8, n, dtype=torch.long), qmask], 1),
                        query_embeds=m.query_tokens.expand(8, -1, -1), encoder_hidden_states=feats[:8],
                        encoder_attention_mask=torch.ones(8, n + 1, dtype=torch.long), output_attentions=True,
                        return_dict=True)
    peak = out.cross_attentions[0].mean(1).argmax(-1)  # [8, n]: the patch each query reads most
    assert (peak == torch.arange(1, n + 1)).float().mean() > 0.9


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_tiny_models_read_the_image_after_the_question(arch):
    """The tiny LM was pretrained with the scene after the question; training examples and
    prompts must put the image tokens there for both architectures, given data in the layout
    our generators write (InstructBLIP's prefix placement left the frozen LM blind: POPE ~50)."""
    from harness.core.records import Conversation
    from harness.training.finetune import examples_from_conversations

    vlm = tiny_vlm(arch)
    img = vlm.image_token_id
    conv = Conversation.model_validate({"id": "1", "image": "a.png", "conversations": [
        {"from": "human", "value": "What colour is the star?\n<image>"}, {"from": "gpt", "value": "Red."}]})
    [ex] = examples_from_conversations(vlm, [conv], {"a.png": 0}, 256)
    question = vlm.tokenizer(" colour", add_special_tokens=False)["input_ids"][-1]
    for ids in (ex.input_ids, vlm.prompt_ids("What colour is the star?")):
        first_image = ids.index(img)
        assert ids.count(img) == vlm.n_image_tokens
        assert question in ids[:first_image], "image tokens come before the question"


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_lettered_options_come_after_the_image(arch):
    """With lettered options the image sits between the question and the options, the same in
    the data our generators write, the training examples and the prompts at inference."""
    from generators.base import to_llava
    from harness.core.records import GenerationRecord
    from harness.training.finetune import examples_from_conversations
    from harness.world.qa import multiple_choice

    vlm = tiny_vlm(arch)
    prompt, letter = multiple_choice("What colour is the star?", ["red", "blue"], 0)
    rec = GenerationRecord(id="r", image="a.png", generator="test", data_type="conversation", prompt="",
                           raw_output="", parse_status="ok", question=prompt, answer=letter)
    [conv] = to_llava([rec])
    first = conv.conversations[0].value
    assert first.index("<image>") < first.index("A. red") and first.index("star?") < first.index("<image>")
    [ex] = examples_from_conversations(vlm, [conv], {"a.png": 0}, 256)
    header = vlm.prompt_ids(prompt)
    assert ex.input_ids[:len(header)] == header  # training and inference see the same tokens
    img = vlm.image_token_id
    star = vlm.tokenizer(" star", add_special_tokens=False)["input_ids"][-1]
    red = vlm.tokenizer(" red", add_special_tokens=False)["input_ids"][-1]
    last_image = max(i for i, t in enumerate(header) if t == img)
    assert header.index(star) < header.index(img) and last_image < header.index(red, last_image)


def test_real_instructblip_checkpoints_keep_the_prefix_layout():
    """A checkpoint without our flag (a real InstructBLIP) gets image tokens before all text,
    as its processor puts them."""
    vlm = tiny_vlm("instructblip")
    vlm.model.config.vigc_image_after_text = False
    ids = vlm.prompt_ids("What colour is the star?")
    n = vlm.n_image_tokens
    assert ids[:n] == [vlm.image_token_id] * n and vlm.image_token_id not in ids[n:]


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_a_stop_rule_ends_each_row_where_its_text_first_satisfies_it(arch):
    vlm = tiny_vlm(arch, seed=3)
    with torch.no_grad():  # a random model repeats a special token; make it emit text instead
        vlm.model.get_output_embeddings().weight[sorted(vlm.tokenizer.added_tokens_decoder)] = 0.0
    feats = vlm.image_features(images(3))
    prompts = ["What colour is the star?", "How many shapes are in the image?", "Describe it."]
    full = vlm.generate(feats, prompts, max_new_tokens=12)
    stopped = vlm.generate(feats, prompts, max_new_tokens=12, stop=lambda t: len(t.strip()) >= 4)
    assert any(len(s) < len(f) for s, f in zip(stopped, full))
    for s, f in zip(stopped, full):
        assert f.startswith(s)
        assert len(s) >= 4 or s == f
