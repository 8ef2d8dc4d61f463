"""Data generators: one file each, registered with `@register_generator`."""

from harness.core.registry import Registry

GENERATORS: Registry = Registry("generator", "generators")
register_generator = GENERATORS.register
