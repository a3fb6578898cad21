"""Pure Block Kit builders: data in, dicts out. Every id lives here as a constant."""
