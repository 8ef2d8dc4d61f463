"""Model adapters: tiny models built from configs, real checkpoints loaded by path or hub id."""
