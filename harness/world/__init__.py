"""The embedded visual world: procedurally drawn scenes with complete ground truth.

`spec` holds the vocabulary (colours, shapes, sizes) and the knowledge base, `scenes` samples
scenes, `render` draws them, `captions` writes human-like captions, `qa` and `claims` ask and
check questions about them, `export` writes COCO-format annotations and image folders, and
`config` is the world section of a study config.

May import only the core.
"""
