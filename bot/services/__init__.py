"""Every rule of the product, one module per feature; collaborators come in the constructor."""
