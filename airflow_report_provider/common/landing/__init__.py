"""The landing side: a finished report's bytes from their source to one destination object, raw or converted
(sources, resume, archives, formats, conversion, sinks, the destination)."""
