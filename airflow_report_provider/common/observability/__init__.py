"""What the provider tells the outside about its work: lineage, metrics, progress lines, and the redaction that
keeps secrets out of all of them."""
