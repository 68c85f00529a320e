"""Backdrop Studio's functional core: background removal, super-resolution, compositing.

Every module here works from a plain Python script or batch job; none imports Gradio.
"""

from pipeline.errors import ImageInputError, ModelUnavailableError, PipelineError

__all__ = ["ImageInputError", "ModelUnavailableError", "PipelineError"]
