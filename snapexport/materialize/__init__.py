"""Writing a snapshot back out as an export: naming, manifest encoding, sinks, field crypto."""
