"""The embedded visual world: procedurally drawn scenes with complete ground truth.

`spec` holds the vocabulary (colours, shapes, sizes) and the knowledge base, `scenes` samples
scenes, `render` draws them, `captions` writes human-like captions and `export` writes
COCO-format annotations and image folders.
"""
