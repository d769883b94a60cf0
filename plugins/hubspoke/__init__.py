"""hubspoke: hub-and-spoke MLOps across AWS accounts."""
