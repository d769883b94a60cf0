"""localcloud: an embedded multi-account AWS for hubspoke, built on moto."""
