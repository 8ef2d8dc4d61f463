"""Finetuning: LLaVA-format data to tensors, and a deterministic training loop."""
