"""The stack config schema: one pydantic model, read once."""

from components.config.loader import ConfigError, load_stack_config, parse_stack_config
from components.config.modelspec import ModelSpec
from components.config.stack import StackConfig

__all__ = ["ConfigError", "ModelSpec", "StackConfig", "load_stack_config", "parse_stack_config"]
