"""What a run leaves in the output folder: the published film, subtitles and contact sheet, and the manifest."""
