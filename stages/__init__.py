"""The five stages of a film (script, images, animation, narration, stitch), one backend per module."""
