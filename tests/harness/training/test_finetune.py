"""The finetune loop: deterministic, and a run interrupted after a checkpoint resumes to the same weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from harness.core.records import Conversation  # noqa: E402
from harness.training.finetune import batch_order, examples_from_conversations, finetune  # noqa: E402
from tests.harness._tiny_models import images, tiny_vlm  # noqa: E402


def _setup(arch: str = "llava"):
    vlm = tiny_vlm(arch, seed=5)
    feats = vlm.image_features(images(4))
    convs = [Conversation.model_validate({"id": str(i), "image": f"im{i % 4}", "conversations": [
        {"from": "human", "value": "What colour is the star?\n<image>"},
        {"from": "gpt", "value": ["The star is red.", "The star is blue."][i % 2]},
        {"from": "human", "value": "Is there a circle in the image?"},
        {"from": "gpt", "value": "Yes, there is a circle in the image."}]}) for i in range(10)]
    ex = examples_from_conversations(vlm, convs, {f"im{i}": i for i in range(4)}, 128)
    return vlm, feats, ex


def _params(vlm):
    return torch.cat([p.detach().flatten() for p in vlm.model.parameters() if p.requires_grad])


KW = dict(steps=6, batch=4, lr=5e-3, warmup=1, train_lm=True, bf16=True, seed=0, checkpoint_every=2)


class Killed(Exception):
    pass


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_resume_after_interruption_gives_the_same_weights(arch, tmp_path):
    vlm, feats, ex = _setup(arch)
    log = finetune(vlm, feats, ex, **KW)
    straight = _params(vlm)
    assert log.losses and log.resumed_from == 0

    vlm2, feats2, ex2 = _setup(arch)

    def die(step, loss):
        if step == 5:
            raise Killed

    with pytest.raises(Killed):
        finetune(vlm2, feats2, ex2, resume=tmp_path, advance=die, **KW)
    vlm3, feats3, ex3 = _setup(arch)  # a fresh process would rebuild the model from scratch
    log3 = finetune(vlm3, feats3, ex3, resume=tmp_path, **KW)
    assert log3.resumed_from == 4
    assert torch.equal(_params(vlm3), straight)


def test_training_changes_weights_and_is_deterministic():
    a, fa, ea = _setup()
    before = _params(a).clone()
    finetune(a, fa, ea, **KW)
    b, fb, eb = _setup()
    finetune(b, fb, eb, **KW)
    assert not torch.equal(before, _params(a))
    assert torch.equal(_params(a), _params(b))


def test_instructblip_turns_become_single_turn_samples_with_question_for_qformer():
    vlm, _, ex = _setup("instructblip")
    assert len(ex) == 20  # two turns per conversation
    assert {e.qformer_text for e in ex} == {"What colour is the star?", "Is there a circle in the image?"}


def test_batch_order_covers_each_epoch_once():
    n, b = 37, 5
    lengths = [i % 11 for i in range(n)]
    per_epoch = n // b
    seen = [i for s in range(per_epoch) for i in batch_order(n, b, s, 3, lengths)]
    assert len(seen) == len(set(seen)) == per_epoch * b


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_a_text_only_conversation_is_trained_on_the_blank_image(arch: str) -> None:
    """LLaVA-1.5's mix holds text-only conversations (no `image`): each is encoded as a question
    asked with the blank image, where and how the model sees one at prediction, so every
    sequence carries its image tokens and a mixed batch trains."""
    from harness.models.encode import encode_prompt

    vlm, feats, ex = _setup(arch)
    text = Conversation.model_validate({"id": "t", "conversations": [
        {"from": "human", "value": "Name something that is red."}, {"from": "gpt", "value": "a fire truck"}]})
    assert text.image is None
    blank = len(feats)  # the blank image's row, after the four images
    (e,) = examples_from_conversations(vlm, [text], {None: blank}, 128)
    assert e.image == blank
    image_id = vlm.image_token_id
    assert e.input_ids.count(image_id) == vlm.n_image_tokens
    # The prompt part is what predict asks a text-only problem (the same ids, image included).
    prompt = encode_prompt(vlm.tokenizer, [{"role": "user", "content": vlm.user_content("Name something that is red.")}],
                           vlm.n_image_tokens, vlm.image_prefix, vlm.image_token)
    assert e.input_ids[:len(prompt)] == prompt
    # Mixed with image conversations, it trains (and changes the weights).
    from harness.models.features import feature_table

    table = torch.cat([feats, feature_table(vlm, [None])[0]])
    before = _params(vlm).clone()
    finetune(vlm, table, ex[:3] + [e], **{**KW, "steps": 2, "batch": 4, "bf16": False})
    assert not torch.equal(before, _params(vlm))
